"""casavi-bridge: mirrors casavi tickets into workflow tools."""
__version__ = "0.1.0"
