"""Test helpers shared by the integration and end-to-end tiers: the Kafka and PostgreSQL
backends (`backends`), broker clients (`kafka`), integrators and service processes, procurement
driven as a process (`procurement`)."""
