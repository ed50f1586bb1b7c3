"""The open-files limit a standby role needs, and how each target gives it.

`lotus-worker run` only checks its soft RLIMIT_NOFILE and exits when it is below ``MinerFDLimit`` = 100 000
(Lotus cli/worker/worker.go:309-318, build/buildconstants/limits.go:5); it never raises it. The daemon and the
miner raise their own (cli/lotus/daemon.go:188, cli/miner/run.go:89, to 16 Ki), so giving every role the
worker's limit is harmless. A process may raise its soft limit up to its hard limit, never past it.
"""

from __future__ import annotations

import resource
import shlex

__all__ = ["LOTUS_WORKER_NOFILE", "nofile_shell", "raise_own_nofile", "short_limit_note", "target_soft"]

LOTUS_WORKER_NOFILE = 100_000  # build/buildconstants/limits.go:5 MinerFDLimit


def target_soft(soft: int, hard: int, want: int = LOTUS_WORKER_NOFILE) -> int:
    """The soft limit to set: min(hard, max(soft, want)); never lower than it is."""
    inf = resource.RLIM_INFINITY
    if soft == inf or soft >= want:
        return soft
    return want if hard == inf else max(soft, min(hard, want))


def raise_own_nofile(want: int = LOTUS_WORKER_NOFILE) -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE toward `want` (children inherit it); returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = target_soft(soft, hard, want)
    if new != soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new, hard


def short_limit_note(soft: int | str, hard: int | str, where: str = "this host") -> str:
    """What to tell the operator when the hard limit keeps the soft one below what lotus-worker needs."""
    # Plain words only (no quotes, backticks or $): the ssh target echoes this inside a double-quoted string.
    return (f"spdrill: the open-files limit on {where} is soft {soft}, hard {hard}: lotus-worker run needs a "
            f"soft limit of at least {LOTUS_WORKER_NOFILE} and exits without it (Lotus checks the limit, never "
            "raises it). Raise the hard limit for the harness and the standby: nofile in "
            "/etc/security/limits.conf, LimitNOFILE= in the unit that starts them, or ulimit -Hn as root")


def nofile_shell(role: str, log: str) -> str:
    """POSIX sh lines that raise the soft limit like `raise_own_nofile`, and note a short hard limit in `log`."""
    want = LOTUS_WORKER_NOFILE
    lines = [f"_w={want}; _h=$(ulimit -H -n); _s=$(ulimit -S -n)",
             'if [ "$_h" != unlimited ] && [ "$_h" -lt "$_w" ]; then _w=$_h; fi',
             'if [ "$_s" != unlimited ] && [ "$_s" -lt "$_w" ]; then ulimit -S -n "$_w"; fi']
    if role == "worker":
        note = short_limit_note("$_w", "$_h", "the standby host")
        lines.append(f'if [ "$_w" -lt {want} ]; then echo "{note}" >> {shlex.quote(log)}; fi')
    return "; ".join(lines)
