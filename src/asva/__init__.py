"""asva: audio-synchronized visual animation (two-stage ASVA and KeyVID on DynamiCrafter)."""

__version__ = "0.1.0"
