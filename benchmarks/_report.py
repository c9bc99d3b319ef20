"""What each benchmark hands to the runner: a titled table, checks against targets, notes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    """One target the project holds itself to (see benchmarks/README.md), and whether
    this run met it."""

    name: str  # e.g. "decode 200 offers: ours vs json.loads"
    value: float  # the measured ratio
    target: float  # the ratio to reach (value >= target)

    @property
    def met(self) -> bool:
        return self.value >= self.target

    def line(self) -> str:
        verdict = "met" if self.met else f"MISSED by {(1 - self.value / self.target):.0%}"
        return f"{self.name}: {self.value:.2f}x (target >= {self.target:.3g}x): {verdict}"


@dataclass
class Section:
    title: str
    command: str
    rows: list[list[str]]  # the first row is the header
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        out = [f"## {self.title}", "", f"`{self.command}`", ""]
        header, *body = self.rows
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|")
        out += ["| " + " | ".join(row) + " |" for row in body]
        if self.checks:
            out += ["", "Targets:", ""] + [f"- {c.line()}" for c in self.checks]
        if self.notes:
            out += ["", *self.notes]
        return "\n".join(out) + "\n"

    def text(self) -> str:
        widths = [max(len(r[i]) for r in self.rows) for i in range(len(self.rows[0]))]
        lines = [self.title, self.command]
        for row in self.rows:
            lines.append("  ".join(c.rjust(w) if i else c.ljust(w)
                                   for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        lines += [c.line() for c in self.checks] + self.notes
        return "\n".join(lines)
