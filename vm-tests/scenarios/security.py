"""security.py: `systemd-analyze security` inside the guest, on the loaded
(running) units, meets the thresholds of tests/integration/test_units.py:
exposure 0.5 or lower for a role without egress, 1.0 or lower for the roles
that reach outside (enquiry, outgoing)."""

import re

from vmlib import case

EGRESS_ROLES = {"enquiry", "outgoing"}
EXPOSURE_MAX = 1.0
EXPOSURE_MAX_NO_EGRESS = 0.5


def run(env):
    g = env.guest
    for role in env.roles:
        unit = "allears-%s.service" % role
        limit = EXPOSURE_MAX if role in EGRESS_ROLES else EXPOSURE_MAX_NO_EGRESS
        rc, out = g.run("SYSTEMD_COLORS=0 systemd-analyze security --no-pager %s" % unit)
        m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(unit), out)
        score = float(m.group(1)) if m else None
        case("security_in_guest %s exposure %s <= %.1f" % (unit, m.group(1) if m else "?", limit),
             score is not None and score <= limit, out[-1500:])
