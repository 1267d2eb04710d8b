# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input problems, collected all at once: each names the variable the user sets, what is wrong, the fix."""

from __future__ import annotations


class InputProblems:
    """The problems found so far, in the order found; one per (variable, problem)."""

    def __init__(self) -> None:
        self.problems: list[dict[str, str]] = []

    def add(self, variable: str, problem: str, fix: str) -> None:
        """Record a problem; a variable already named keeps its first one (fix that, then see the next)."""
        if variable not in self.names():
            self.problems.append({"variable": variable, "problem": problem, "fix": fix})

    def names(self) -> list[str]:
        return [p["variable"] for p in self.problems]

    def __bool__(self) -> bool:
        return bool(self.problems)


class InputError(ValueError):
    """Some inputs are wrong; ``problems`` lists each one ({variable, problem, fix})."""

    def __init__(self, problems: list[dict[str, str]], what: str = "scale-out") -> None:
        self.problems = problems
        super().__init__(format_problems(problems, what))


def format_problems(problems: list[dict[str, str]], what: str = "scale-out") -> str:
    lines = [f"{len(problems)} input(s) of {what} must be fixed before anything is created:"]
    lines += [f"- {p['variable']}: {p['problem']}. Fix: {p['fix']}" for p in problems]
    return "\n".join(lines)
