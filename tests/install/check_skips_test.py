"""scripts/check-skips.py fails on a skipped test the allow-list does not name, and passes on one
it names or on a run without skips."""
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECKER = ROOT / "scripts" / "check-skips.py"
ALLOWED = next(line.split()[0] for line in (ROOT / "tests" / "allowed-skips.txt").read_text()
               .splitlines() if line.strip() and not line.startswith("#"))


def junit(name, skipped):
    mark = '<skipped message="SKIP_REGULAR_EXPRESSION_MATCHED"/>' if skipped else ""
    out = "a.cpp:1: Skipped\nneeds python3-h5py\n[  SKIPPED ] " + name if skipped else ""
    return (f'<testsuite><testcase name="{name}" status="{"notrun" if skipped else "run"}">'
            f"{mark}<system-out>{out}</system-out></testcase></testsuite>")


def run(xml):
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    return subprocess.run([sys.executable, str(CHECKER), f.name], capture_output=True, text=True)


refused = run(junit("Keras.ReadsWeights", True))
assert refused.returncode == 1, refused
assert "Keras.ReadsWeights: needs python3-h5py" in refused.stderr, refused.stderr
assert run(junit(ALLOWED, True)).returncode == 0
assert run(junit("Keras.ReadsWeights", False)).returncode == 0
print("check-skips refuses unlisted skips and passes listed ones")
