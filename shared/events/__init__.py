"""Internal events between our own services, each module owned by its producing service.

They travel as CloudEvents like the external ones; `type` names are past-tense facts
(`alliance.member.registered`) or imperative commands (`alliance.purchase_request.withdraw`).
"""

from pydantic import BaseModel, ConfigDict


class InternalModel(BaseModel):
    """Internal payloads: our own producers, so validation guards bugs, not strangers."""

    model_config = ConfigDict(extra="ignore", frozen=True)
