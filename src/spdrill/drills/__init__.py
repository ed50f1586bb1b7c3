"""The shipped drills: pytest checks of one restore drill, run by `spdrill run`."""
