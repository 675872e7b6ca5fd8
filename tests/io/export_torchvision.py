"""Export a torchvision network with seeded random weights to ONNX, with reference outputs.

usage: export_torchvision.py MODEL OUT_DIR [--classes N] [--batch N] [--size S] [--keep-batchnorm]
                            [--opset N]
       export_torchvision.py --list

Writes OUT_DIR/MODEL.onnx (torch.onnx.export, opset 13 or --opset, eval mode), OUT_DIR/MODEL.input.bin
(float32 (N, 3, S, S), uniform in [-2, 2]) and OUT_DIR/MODEL.logits.bin (float32 (N, classes)):
PyTorch's own outputs on that input, for kiln's importer to match. With --keep-batchnorm the
BatchNormalization nodes stay (by default the exporter folds them into the convolutions before).
Batch-norm running statistics are randomised too, so an importer that ignored them (or mixed mean and variance) would fail.
MODEL grey_cnn is not torchvision's: a one-channel network as people write one for MNIST (input
(N, 1, S, S) in [0, 1], S = 28), flattened with x.view(x.size(0), -1) as in PyTorch's MNIST example.
--list prints the convolutional classification builders of the installed torchvision, one per
line: list_models() of torchvision.models, or (before 0.14's registry) the public lower-case
callables, minus the transformers (vit, swin, maxvit).
Exit code 3: torch or torchvision is not installed (the caller skips).
"""
import argparse
import os
import sys

try:
    import torch
    import torchvision
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"needs python3-torch and python3-torchvision: {e}", file=sys.stderr)
    sys.exit(3)


class GreyCnn(torch.nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3)
        self.fc = torch.nn.Linear(16 * 6 * 6, classes)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)  # 28 -> 14
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)  # 12 -> 6
        return self.fc(x.view(x.size(0), -1))


def build(name, classes):
    torch.manual_seed(0)
    if name == "grey_cnn":
        return GreyCnn(classes).eval()
    model = getattr(torchvision.models, name)(num_classes=classes)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model.eval()


TRANSFORMERS = ("vit_", "swin_", "maxvit_")


def classification_builders():
    models = torchvision.models
    if hasattr(models, "list_models"):
        names = models.list_models(module=models)
    else:
        names = [n for n in dir(models) if n[0].islower() and not n.startswith("_")
                 and callable(getattr(models, n)) and n not in ("get_weight", "get_model",
                                                                "get_model_weights")]
    return sorted(n for n in names if not n.startswith(TRANSFORMERS))


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(classification_builders()))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("out_dir")
    parser.add_argument("--opset", type=int, default=13)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--keep-batchnorm", action="store_true")
    args = parser.parse_args()
    model = build(args.model, args.classes)
    torch.manual_seed(1)
    if args.model == "grey_cnn":
        x = torch.rand(args.batch, 1, args.size, args.size)
    else:
        x = torch.rand(args.batch, 3, args.size, args.size) * 4 - 2
    with torch.no_grad():
        logits = model(x)
    base = os.path.join(args.out_dir, args.model)
    torch.onnx.export(model, x, base + ".onnx", opset_version=args.opset,
                      input_names=["pixels"], output_names=["logits"],
                      dynamic_axes={"pixels": {0: "N"}, "logits": {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE if args.keep_batchnorm
                      else torch.onnx.TrainingMode.EVAL,
                      do_constant_folding=not args.keep_batchnorm)
    x.numpy().astype("float32").tofile(base + ".input.bin")
    logits.numpy().astype("float32").tofile(base + ".logits.bin")


if __name__ == "__main__":
    main()
