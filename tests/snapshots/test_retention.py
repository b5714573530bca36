"""Retention arithmetic (keep-daily/weekly/monthly) over a year of synthetic dates, and pruning."""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.snapshots import archive as arc
from scanner.snapshots.retention import Policy, select
from tests.support.snapshots import homelab_report

UTC = timezone.utc


def brute_force(times: list[datetime], daily: int, weekly: int, monthly: int) -> set[datetime]:
    """Reference model written the other way round: group by period, take newest per period,
    take the N newest periods."""
    kept = {max(times)}
    for n, period in ((daily, lambda t: t.date()), (weekly, lambda t: t.isocalendar()[:2]),
                      (monthly, lambda t: (t.year, t.month))):
        groups: dict = {}
        for t in times:
            groups.setdefault(period(t), []).append(t)
        newest_periods = sorted(groups, key=lambda p: max(groups[p]), reverse=True)[:n]
        kept |= {max(groups[p]) for p in newest_periods}
    return kept


def year_of_snapshots(step_hours=6, start=datetime(2024, 1, 1, 1, 30, tzinfo=UTC), days=366):
    return [start + timedelta(hours=step_hours * i) for i in range(days * 24 // step_hours)]


def test_year_of_six_hourly_snapshots():
    times = year_of_snapshots()
    kept = select([(t, t) for t in times], Policy(daily=7, weekly=4, monthly=12))
    newest = max(times)
    assert newest == datetime(2024, 12, 31, 19, 30, tzinfo=UTC)
    assert newest in kept
    # daily: the last snapshot (19:30) of Dec 25..31
    daily = {datetime(2024, 12, d, 19, 30, tzinfo=UTC) for d in range(25, 32)}
    # weekly: newest of ISO weeks 2025-W01 (Dec 30-31, 2024 belong to it), 2024-W52, W51, W50
    weekly = {newest, datetime(2024, 12, 29, 19, 30, tzinfo=UTC), datetime(2024, 12, 22, 19, 30, tzinfo=UTC),
              datetime(2024, 12, 15, 19, 30, tzinfo=UTC)}
    # monthly: the last snapshot of each month of 2024
    monthly = {datetime(2024, m + 1, 1, 19, 30, tzinfo=UTC) - timedelta(days=1) if m < 12 else newest
               for m in range(1, 13)}
    assert set(kept) == daily | weekly | monthly
    assert len(kept) == 7 + 2 + 11  # weekly Dec 29 and Dec 31, monthly Dec 31 are already daily
    assert set(kept) == brute_force(times, 7, 4, 12)
    assert kept[newest] == ["newest", "daily", "weekly", "monthly"]


@pytest.mark.parametrize("seed", range(25))
def test_random_years_match_the_reference_model(seed):
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC)
    times = sorted({start + timedelta(minutes=rng.randrange(0, 400 * 24 * 60)) for _ in range(rng.randrange(1, 900))})
    policy = (rng.randrange(0, 15), rng.randrange(0, 10), rng.randrange(0, 14))
    kept = select([(t.isoformat(), t) for t in times], Policy(*policy))
    expected = brute_force(times, *policy) if any(policy) else set(times)
    assert {datetime.fromisoformat(k) for k in kept} == expected


def test_iso_weeks_cross_the_new_year():
    # 2020-12-31 (Thu) and 2021-01-03 (Sun) are both in ISO week 2020-W53; 2021-01-04 starts W01.
    times = [datetime(2020, 12, 28, tzinfo=UTC), datetime(2020, 12, 31, tzinfo=UTC), datetime(2021, 1, 3, tzinfo=UTC),
             datetime(2021, 1, 4, tzinfo=UTC)]
    kept = select([(t.date(), t) for t in times], Policy(weekly=2))
    assert set(kept) == {date(2021, 1, 3), date(2021, 1, 4)}


def test_counts_periods_that_have_snapshots_not_calendar_days():
    # A daily job that stopped for two months: keep-daily 7 still keeps seven snapshots.
    times = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(30)]
    times.append(datetime(2025, 4, 1, tzinfo=UTC))
    kept = select([(t, t) for t in times], Policy(daily=7))
    assert len(kept) == 7 and max(times) in kept
    assert min(kept) == datetime(2025, 1, 25, tzinfo=UTC)


def test_newest_is_always_kept_and_no_policy_keeps_everything():
    times = [datetime(2025, 1, d, tzinfo=UTC) for d in range(1, 11)]
    assert set(select([(t, t) for t in times], Policy())) == set(times)
    assert set(select([(t, t) for t in times], Policy(monthly=1))) == {max(times)}
    assert select([], Policy(daily=3)) == {}
    with pytest.raises(ValueError):
        Policy(daily=-1)


def test_same_day_keeps_only_the_newest():
    times = [datetime(2025, 1, 1, h, tzinfo=UTC) for h in range(24)]
    assert set(select([(t, t) for t in times], Policy(daily=5))) == {max(times)}


def _fill(archive: Path, times: list[datetime], source="/srv/homelab") -> None:
    for t in times:
        arc.store(archive, homelab_report(started_at=t.isoformat(), source_path=source))


def test_prune_deletes_files_signatures_and_index_entries(tmp_path):
    from scanner.snapshots.audit import verify_archive
    from scanner.snapshots.signing import keygen, load_public_key

    archive = tmp_path / "arc"
    key, pub = keygen(str(tmp_path / "k"))
    times = [datetime(2025, 1, 1, 3, tzinfo=UTC) + timedelta(days=i) for i in range(40)]
    for t in times[:-1]:
        arc.store(archive, homelab_report(started_at=t.isoformat()), sign_key=key)
    # Retention runs in the store of the next snapshot, which records what it removed.
    entry = arc.store(archive, homelab_report(started_at=times[-1].isoformat()), sign_key=key,
                      policy=Policy(daily=3, weekly=2))
    removed = entry["pruned"]
    kept_names = sorted(p.name for p in (archive / "snapshots").glob("*.json"))
    # Feb 7, 8, 9 (daily); Feb 9 is a Sunday, so the newest of the previous ISO week is Feb 2
    assert kept_names == ["20250202T030000Z-homelab.json", "20250207T030000Z-homelab.json",
                          "20250208T030000Z-homelab.json", "20250209T030000Z-homelab.json"]
    assert len(removed) == 36
    assert sorted(p.name for p in (archive / "snapshots").glob("*.sig")) == [n + ".sig" for n in kept_names]
    index = json.loads((archive / "index.json").read_text())
    assert [Path(e["file"]).name for e in index] == kept_names
    chain = json.loads((archive / "snapshots" / kept_names[-1]).read_text())["chain"]
    assert len(chain["pruned"]) == 36 and chain["previous"]["file"] == "20250208T030000Z-homelab.json"
    # The gaps are signed for: the whole archive still verifies, with the removals on record.
    audit = verify_archive(archive, load_public_key(pub))
    assert audit.status == "intact", audit.breaks


def test_prune_is_per_source(tmp_path):
    archive = tmp_path / "arc"
    days = [datetime(2025, 3, d, 2, tzinfo=UTC) for d in range(1, 6)]
    _fill(archive, days[:-1], "/srv/homelab")
    _fill(archive, days[:2], "/srv/other-repo")  # scans of another repo stopped on day 2
    arc.store(archive, homelab_report(started_at=days[-1].isoformat(), source_path="/srv/homelab"),
              policy=Policy(daily=2))
    names = sorted(p.name for p in (archive / "snapshots").glob("*.json"))
    assert names == ["20250301T020000Z-other-repo.json", "20250302T020000Z-other-repo.json",
                     "20250304T020000Z-homelab.json", "20250305T020000Z-homelab.json"]


def test_snapshot_command_prunes(tmp_path, monkeypatch):
    import scanner.engine.pipeline
    from tests.support.reports import as_model
    from scanner.cli.snapshots import snapshot

    archive = tmp_path / "arc"
    _fill(archive, [datetime(2025, 3, d, 2, tzinfo=UTC) for d in range(1, 10)])
    monkeypatch.setattr(scanner.engine.pipeline, "run_scan",
                        lambda options, config=None, **kw: as_model(homelab_report(started_at="2025-03-20T02:00:00Z")), raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    result = CliRunner().invoke(snapshot, [str(repo), "--archive", str(archive), "--keep-daily", "3"])
    assert result.exit_code == 0, result.output
    assert "pruned 7 snapshot(s)" in result.output
    assert len(list((archive / "snapshots").glob("*.json"))) == 3
