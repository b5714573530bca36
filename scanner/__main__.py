from scanner.cli.main import run

run()
