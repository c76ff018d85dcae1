"""The severity helper behind ``/incident assess``, in integer arithmetic so thresholds compare exactly.

Four factors are scored 1 (low) to 4 (critical); weights are whole percents summing to 100, so
score × 100 = Σ weight × level, compared with thresholds × 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FACTORS = ("business", "scope", "users", "security")


@dataclass(frozen=True)
class AssessmentRules:
    weights: dict[str, int] = field(default_factory=lambda: {"business": 40, "scope": 30, "users": 20,
                                                             "security": 10})
    # Score × 100 at or above which each level is suggested, most severe first.
    thresholds: tuple[tuple[str, int], ...] = (("SEV-1", 350), ("SEV-2", 250), ("SEV-3", 150))
    fallback: str = "SEV-4"
    security_override: str = "SEV-1"  # a security risk of 4 (confirmed compromise) means this level

    def problems(self) -> list[str]:
        found = []
        if set(self.weights) != set(FACTORS):
            found.append(f"weights must name exactly {', '.join(FACTORS)}")
        elif sum(self.weights.values()) != 100:
            found.append(f"weights must sum to 100, not {sum(self.weights.values())}")
        if any(w < 0 for w in self.weights.values()):
            found.append("weights cannot be negative")
        return found


@dataclass(frozen=True)
class Assessment:
    levels: dict[str, int]
    score_x100: int
    suggested: str
    security_override: bool

    @property
    def score(self) -> str:
        """Shown with two decimals: 3.70."""
        return f"{self.score_x100 // 100}.{self.score_x100 % 100:02d}"


def assess(levels: dict[str, int], rules: AssessmentRules) -> Assessment:
    for factor in FACTORS:
        if levels.get(factor) not in (1, 2, 3, 4):
            raise ValueError(f"{factor} must be scored 1 to 4")
    score = sum(rules.weights[f] * levels[f] for f in FACTORS)
    suggested = next((level for level, at in rules.thresholds if score >= at), rules.fallback)
    override = levels["security"] == 4 and suggested != rules.security_override
    return Assessment(levels=dict(levels), score_x100=score,
                      suggested=rules.security_override if levels["security"] == 4 else suggested,
                      security_override=override)
