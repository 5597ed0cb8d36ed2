"""casavi relay (service providers' orders) as a second source: client, parser, source adapter."""
