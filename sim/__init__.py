"""simrun: settle "the customer is God" with evidence, by discrete-event simulation."""

__version__ = "0.1.0"
