"""The seed's members as notifications knows them until their profile events arrive."""


from services.notifications.main import members_from_seed
from shared.contract import Severity
from shared.seed import load_seed
from tests.support.runs import DEMO_SEED


def test_the_demo_seeds_members_keep_their_channels_and_a_supported_locale():
    members = {m.member_id: m for m in members_from_seed(load_seed(DEMO_SEED))}
    huber = members["m-huber"]
    assert huber.webhook_url == "http://127.0.0.1:8090/m-huber"
    assert huber.webhook_secret == "demo-webhook-secret-m-huber-not-for-production"
    assert huber.email == "einkauf@schreinerei-huber.example"
    assert members["m-steiner"].declared_min_risk_severity is Severity.HIGH
    assert members["m-gruber-haustechnik"].locale == "de"
    assert members["m-elektro-berger"].webhook_url is None
    assert "secret" not in repr(huber)
