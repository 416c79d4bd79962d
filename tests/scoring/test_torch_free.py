"""Scoring through an endpoint, and building options, never import torch (checked in fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> dict:
    """Run code in a fresh interpreter at the repository root; it prints one JSON object last."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_scoring_and_validating_options_loads_no_torch(tmp_path):
    found = run_python(
        "import json, sys\n"
        "import typicality.scoring\n"
        "from typicality.scoring import ScoringOptions\n"
        f"ScoringOptions.create(model='openai:http://127.0.0.1:9/v1#m', concurrency=4, cache_dir={str(tmp_path)!r}).validate()\n"
        f"ScoringOptions.create(dtype='bfloat16', cache_dir={str(tmp_path)!r}).validate()\n"
        "try:\n"  # refused where vLLM is absent; either way, only looked up, never imported
        f"    ScoringOptions.create(model='vllm:gemma-3-270m', tensor_parallel_size=1, cache_dir={str(tmp_path)!r}).validate()\n"
        "except Exception:\n"
        "    pass\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules, 'vllm': 'vllm' in sys.modules}))\n"
    )
    assert found == {"torch": False, "transformers": False, "vllm": False}


def test_scoring_through_an_endpoint_loads_no_torch(tmp_path):
    found = run_python(
        "import json, sys\n"
        "from tests.scoring.helpers import data_from_texts\n"
        "from tests.scoring.openai_servers import FakeCompletionsServer\n"
        "from typicality.scoring import score\n"
        "with FakeCompletionsServer() as fake:\n"
        "    result = score(data_from_texts([('Hi', ' there'), ('The capital of Italy is ', 'Rome.')]),\n"
        f"                   f'openai:{{fake.url}}#fake-model', cache_dir={str(tmp_path)!r}, progress=False)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules,\n"
        "                  'scored': int(result.table['mean_logprob'].notna().sum()), 'check': result.card.check['passed'],\n"
        "                  'torch_version_recorded': 'torch' in result.card.software}))\n"
    )
    assert found == {"torch": False, "transformers": False, "scored": 2, "check": True, "torch_version_recorded": True}
