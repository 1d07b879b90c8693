"""The supervisor's pure pipeline: evidence -> validator -> gates -> confidence -> decision -> breakpoints."""
