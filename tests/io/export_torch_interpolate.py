"""Export a small PyTorch network that enlarges its feature maps with F.interpolate (nearest, and
bilinear with align_corners=False, whole scale factors), with PyTorch's outputs to match.

usage: export_torch_interpolate.py OUT_DIR OPSET
Writes OUT_DIR/interpolate.onnx, OUT_DIR/interpolate.input.bin (float32 (2, 3, 6, 5)) and
OUT_DIR/interpolate.logits.bin (float32 (2, 4)). Exit code 3: torch is not installed.
"""
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"needs python3-torch: {e}", file=sys.stderr)
    sys.exit(3)


class Interpolating(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.b = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.head = torch.nn.Linear(4 * 24 * 30, 4)

    def forward(self, x):
        x = F.interpolate(torch.relu(self.a(x)), scale_factor=2, mode="nearest")
        x = F.interpolate(self.b(x), scale_factor=(2, 3), mode="bilinear", align_corners=False)
        return self.head(torch.flatten(x, 1))


def main():
    out_dir, opset = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(0)
    model = Interpolating().eval()
    x = torch.rand(2, 3, 6, 5) * 2 - 1
    with torch.no_grad():
        logits = model(x)
    base = os.path.join(out_dir, "interpolate")
    torch.onnx.export(model, x, base + ".onnx", opset_version=opset, input_names=["pixels"],
                      output_names=["logits"])
    x.numpy().astype("float32").tofile(base + ".input.bin")
    logits.numpy().astype("float32").tofile(base + ".logits.bin")


if __name__ == "__main__":
    main()
