"""`make demo`: the alliance at work for a couple of minutes, with simulated member ERPs,
suppliers and member webhook receivers that use only the external contract (docs/contract.md).

Modules: `scenario` (who takes part, and the seed file), `platform` (`alliance run` as a child
process), `participants` (ERPs and suppliers on Kafka), `scoreboard` (what they all observed),
`view` (the live terminal view and the summary). The members' webhooks arrive at
tools/webhook_receiver.py, which verifies and deduplicates them for the scoreboard.
"""
