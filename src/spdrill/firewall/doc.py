"""Render the method table of docs/chain-firewall.md from methods.py, so the two never drift apart."""

from __future__ import annotations

import sys
from pathlib import Path

from spdrill.firewall.methods import ALIASES, PLAIN_READS, RULES, Verdict

START = "<!-- generated from src/spdrill/firewall/methods.py: python -m spdrill.firewall.doc docs/chain-firewall.md -->"
END = "<!-- end of generated table -->"
_LOTUS = "https://github.com/filecoin-project/lotus/blob/b835fab702ebce57abd7e6d0c3326bbd1e18c008"

_HEADINGS = {
    Verdict.REFUSED: "Refused (answered with a JSON-RPC error, never sent to the daemon, recorded)",
    Verdict.ANSWERED: "Answered by the firewall itself (recorded)",
    Verdict.FORWARDED: "Forwarded, worth a word",
}


def _link(source: str) -> str:
    path, line = source.split(":")
    return f"[{source}]({_LOTUS}/{path}#L{line})"


def render_table() -> str:
    """The generated part of the document: one table per verdict, then the plain reads."""
    out = [START, ""]
    for verdict in Verdict:
        rows = sorted((r for r in RULES if r.verdict is verdict), key=lambda r: r.name)
        out += [
            f"### {_HEADINGS[verdict]}: {len(rows)}",
            "",
            "| method | perm | Lotus | why |",
            "| --- | --- | --- | --- |",
        ]
        out += [f"| `{r.name}` | {r.perm} | {_link(r.source)} | {r.reason} |" for r in rows]
        out.append("")
    aliases = ", ".join(f"`{alias}` → `{target}`" for alias, target in sorted(ALIASES.items()))
    out += [f"Ethereum aliases refused with their target: {aliases} (api/eth_aliases.go:28).", ""]
    out += [f"### Forwarded plain reads: {len(PLAIN_READS)}", "", ", ".join(f"`{n}`" for n in sorted(PLAIN_READS))]
    out += ["", END]
    return "\n".join(out)


def splice(document: str) -> str:
    """The document with its generated part replaced by the current table."""
    head, _, rest = document.partition(START)
    _, _, tail = rest.partition(END)
    return head + render_table() + tail


def main(argv: list[str]) -> int:
    """Rewrite the generated part of the document named on the command line."""
    path = Path(argv[0] if argv else "docs/chain-firewall.md")
    path.write_text(splice(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
