"""Plain-torch forwards of the BasicVSR family, shared by pruning and routing.

Framework-free: the MMagic and BasicSR adapters hand in their own modules,
warp function and flows, so one recurrence serves both.
"""
