"""Scale-out on Temporal: a session is a durable workflow driven by orchcore's ``decide``,
each attempt an activity on any worker (extra ``temporal``)."""
