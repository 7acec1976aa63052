"""The CrossGuard entry point: `pulumi preview --policy-pack policies`.

Pulumi runs this file from policies/ in the pack's own virtualenv; the repository
root goes on sys.path so the rule modules import as the `policies` package, the
same modules `gpuplane check` runs offline.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.catalogue import PACK_NAME, policies

PolicyPack(
    name=PACK_NAME,
    # Each policy carries its own level; this applies only to one that does not.
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=policies(),
)
