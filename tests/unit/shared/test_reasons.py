"""docs/contract.md's extension 3 lists every reason a record is set aside for, as shared/reasons.py
defines them: integrators and ops read the list, the services use the enumeration."""

import re
from pathlib import Path

from shared.reasons import DeadLetterReason, QuarantineReason

CONTRACT = Path(__file__).parents[3] / "docs" / "contract.md"


def _documented(kind: str) -> list[str]:
    text = CONTRACT.read_text()
    extension = text[text.index("3. **Quarantine and dead letters**") : text.index("4. **Size and depth limits**")]
    [listed] = re.findall(rf"- {kind} \(.*?\): (.*?)\.\n", extension, re.S)
    return re.findall(r"`([a-z0-9_]+)`", listed)


def test_the_quarantine_reasons_documented_are_the_enumeration():
    assert _documented("Quarantine") == [reason.value for reason in QuarantineReason]


def test_the_dead_letter_reasons_documented_are_the_enumeration():
    assert _documented("Dead letters") == [reason.value for reason in DeadLetterReason]
