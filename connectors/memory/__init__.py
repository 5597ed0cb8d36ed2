"""The memory connector plugin (entry point ``memory``): reference implementation and test fake."""

from connectors.memory.connector import MemoryConnector, MemorySettings


class MemoryConnectorPlugin:
    name = "memory"
    settings_model = MemorySettings

    @staticmethod
    def create(settings: MemorySettings, *, http_policy: object = None) -> MemoryConnector:
        return MemoryConnector(settings)


__all__ = ["MemoryConnector", "MemoryConnectorPlugin", "MemorySettings"]
