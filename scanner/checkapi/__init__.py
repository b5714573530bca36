"""The check plugin API: the `@check` decorator and the result helpers checks use."""
