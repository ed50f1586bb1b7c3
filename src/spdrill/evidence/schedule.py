"""Scheduled drills: a systemd service + timer, a crontab line, or a Kubernetes CronJob that runs the plan."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from spdrill.errors import UsageError

_CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z]+$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")


@dataclass(frozen=True)
class Schedule:
    """What to run and when; paths are made absolute because schedulers do not share the caller's cwd."""

    plan: Path
    reports: Path
    name: str = "spdrill"
    on_calendar: str = "Sun *-*-* 03:00:00"  # systemd: weekly, early Sunday
    cron: str = "0 3 * * 0"  # the same time as a crontab schedule
    spdrill: str = "spdrill"
    sign_key: Path | None = None
    metrics: Path | None = None
    history: Path | None = None
    image: str = "spdrill:0.1.0"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise UsageError(f"--name: expected lowercase letters, digits and dashes (a unit and Kubernetes "
                             f"name), found {self.name!r}")
        fields = self.cron.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise UsageError(f"--cron: expected five crontab fields like \"0 3 * * 0\", found {self.cron!r}")
        if not self.on_calendar.strip() or "\n" in self.on_calendar:
            raise UsageError(f"--on-calendar: expected a systemd calendar spec like \"weekly\" or "
                             f"\"Sun *-*-* 03:00:00\", found {self.on_calendar!r}")

    def argv(self, *, plan: str | None = None, reports: str | None = None, key: str | None = None,
             metrics: str | None = None, history: str | None = None) -> list[str]:
        """The `spdrill run` command line the scheduler runs (paths overridable for a container)."""
        args = [self.spdrill, "run", "--plan", plan or str(self.plan.resolve()),
                "--reports", reports or str(self.reports.resolve())]
        if self.sign_key is not None:
            args += ["--sign", key or str(self.sign_key.resolve())]
        if self.metrics is not None:
            args += ["--metrics", metrics or str(self.metrics.resolve())]
        if self.history is not None:
            args += ["--history", history or str(self.history.resolve())]
        return args


def _sd_quote(arg: str) -> str:
    """Quote one ExecStart word for systemd: double quotes, C escapes, % doubled (it starts specifiers)."""
    arg = arg.replace("%", "%%")
    if arg and not re.search(r"[\s\"'\\;$]", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(s: Schedule) -> str:
    """Two unit files, each under a comment naming where it goes, and the commands that enable them."""
    exec_start = " ".join(_sd_quote(a) for a in s.argv())
    return f"""# /etc/systemd/system/{s.name}.service
[Unit]
Description=spdrill restore drill ({s.plan.name})
Documentation=https://github.com/filecoin-project/lotus
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
# Exit 1 (a check failed) marks the unit failed on purpose: hook alerts onto OnFailure=.
ExecStart={exec_start}
TimeoutStartSec=12h
Nice=10

[Install]
WantedBy=multi-user.target

# /etc/systemd/system/{s.name}.timer
[Unit]
Description=Run the spdrill restore drill {s.on_calendar}

[Timer]
OnCalendar={s.on_calendar}
Persistent=true
RandomizedDelaySec=15m

[Install]
WantedBy=timers.target

# then: systemctl daemon-reload && systemctl enable --now {s.name}.timer
"""


def cron_line(s: Schedule) -> str:
    """One crontab line; `%` is escaped because cron turns it into a newline."""
    command = " ".join(shlex.quote(a) for a in s.argv()).replace("%", "\\%")
    log = shlex.quote(str((s.reports / "cron.log").resolve())).replace("%", "\\%")
    return f"{s.cron} {command} >> {log} 2>&1\n"


def kubernetes_cronjob(s: Schedule) -> str:
    """A batch/v1 CronJob (YAML) with the plan from a ConfigMap, reports on a PVC, the key from a Secret."""
    argv = s.argv(plan="/etc/spdrill/plan.toml", reports="/reports",
                  key="/etc/spdrill/key/drill-signing.key", metrics="/reports/spdrill.prom",
                  history="/reports/history.sqlite")[1:]
    mounts = [("plan", "/etc/spdrill/plan.toml", "plan.toml"), ("reports", "/reports", None)]
    volumes = [f"            - name: plan\n              configMap:\n                name: {s.name}-plan",
               f"            - name: reports\n              persistentVolumeClaim:\n"
               f"                claimName: {s.name}-reports"]
    if s.sign_key is not None:
        mounts.append(("key", "/etc/spdrill/key", None))
        volumes.append(f"            - name: key\n              secret:\n"
                       f"                secretName: {s.name}-key\n                defaultMode: 0400")
    mount_yaml = "\n".join(f"                - name: {n}\n                  mountPath: {p}"
                           + (f"\n                  subPath: {sp}" if sp else "")
                           + ("\n                  readOnly: true" if n != "reports" else "")
                           for n, p, sp in mounts)
    args_yaml = "\n".join(f"                - {json.dumps(a)}" for a in argv)
    return f"""# kubectl create configmap {s.name}-plan --from-file=plan.toml={s.plan}
# kubectl create secret generic {s.name}-key --from-file=drill-signing.key (when signing)
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {s.name}
  labels:
    app.kubernetes.io/name: spdrill
spec:
  schedule: {json.dumps(s.cron)}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 5
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        metadata:
          labels:
            app.kubernetes.io/name: spdrill
        spec:
          restartPolicy: Never
          containers:
            - name: drill
              image: {json.dumps(s.image)}
              command: [{json.dumps(s.spdrill)}]
              args:
{args_yaml}
              volumeMounts:
{mount_yaml}
          volumes:
{chr(10).join(volumes)}
"""
