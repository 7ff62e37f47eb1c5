"""What the tests, bench, demo and chaos share that is no part of the product: imported by
them, never by `services/` or `shared/`. See `webhook_receiver`."""
