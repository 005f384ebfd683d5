"""What every segmentation architecture must do, checked the same way for each.

One tester class holds the contract (in the spirit of segmentation_models.pytorch's
``BaseModelTester``); each architecture subclasses it with its tiny build settings and,
where it needs one, the pretraining checkpoint it is built from. Architecture-specific
behaviour (HRNet's W18 size, Diff-HRNet's frozen denoiser and fusions) stays in
test_hrnet.py and test_diff_hrnet.py.
"""
from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import calibrate_batchnorm, write_geotiff

from training.data.synthetic import paint_block_scene
from training.nets.registry import ARCHITECTURES, build_segmentation_net

HRNET_TINY = dict(width=4, modules=[1, 1, 1, 1], blocks=1, stem_channels=8)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _export(net: torch.nn.Module, example: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    torch.onnx.export(
        net, (example,), buffer, dynamo=False, opset_version=17, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "n", 2: "h", 3: "w"}, "logits": {0: "n", 2: "h", 3: "w"}},
    )
    return buffer.getvalue()


class ArchitectureContract:
    """Subclasses set ``architecture``, ``kwargs`` and ``in_channels``, and override the
    ``pretrained`` fixture when the architecture is built from a checkpoint."""

    architecture = ""
    kwargs: dict = {}
    in_channels = 3
    num_classes = 4

    @pytest.fixture
    def pretrained(self):
        return None

    def build(self, pretrained, **extra):
        return build_segmentation_net(self.architecture, self.in_channels, self.num_classes, pretrained=pretrained,
                                      **{**self.kwargs, **extra})

    @pytest.mark.parametrize("size", [(64, 64), (96, 96), (70, 45)])
    def test_forward_gives_one_logit_per_class_at_the_input_size(self, pretrained, size):
        net = self.build(pretrained).eval()
        with torch.no_grad():
            out = net(torch.randn(2, self.in_channels, *size))
        assert out.shape == (2, self.num_classes, *size)
        assert torch.isfinite(out).all()

    def test_architecture_kwargs_rebuild_the_same_network(self, pretrained):
        """Export rebuilds the network from the checkpoint's architecture_kwargs alone."""
        net = calibrate_batchnorm(self.build(pretrained), torch.randn(2, self.in_channels, 64, 64))
        again = build_segmentation_net(self.architecture, self.in_channels, self.num_classes, pretrained=None,
                                       **net.architecture_kwargs)
        again.load_state_dict(net.state_dict())  # same layout, strict
        x = torch.randn(1, self.in_channels, 64, 64)
        with torch.no_grad():
            assert torch.equal(net(x), again.eval()(x))

    def test_backward_reaches_every_trainable_parameter(self, pretrained):
        net = self.build(pretrained).train()
        logits = net(torch.randn(2, self.in_channels, 64, 64))
        torch.nn.functional.cross_entropy(logits, torch.randint(0, self.num_classes, (2, 64, 64))).backward()
        dead = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
        assert not dead, dead[:5]

    def test_onnx_matches_torch_at_other_sizes(self, pretrained):
        ort = pytest.importorskip("onnxruntime")
        net = calibrate_batchnorm(self.build(pretrained), torch.randn(2, self.in_channels, 64, 64))
        session = ort.InferenceSession(_export(net, torch.randn(1, self.in_channels, 64, 64)),
                                       providers=["CPUExecutionProvider"])
        for shape in [(1, self.in_channels, 64, 64), (2, self.in_channels, 96, 72)]:
            x = torch.randn(*shape)
            with torch.no_grad():
                expected = net(x).numpy()
            got = session.run(None, {"input": x.numpy()})[0]
            assert got.shape == expected.shape
            assert np.abs(expected).max() > 0.1  # a meaningful comparison, not of near-zero outputs
            assert np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())


class TestDeepLabV3Plus(ArchitectureContract):
    architecture = "deeplabv3plus"
    kwargs = {"backbone": "resnet18"}
    in_channels = 5  # any band count: the stem adapts


class TestHRNet(ArchitectureContract):
    architecture = "hrnet"
    kwargs = HRNET_TINY
    in_channels = 4


class TestDiffHRNet(ArchitectureContract):
    architecture = "diff_hrnet"
    kwargs = {**HRNET_TINY, "noise_tile": 32}  # small noise tile: larger inputs tile the fixed noise
    in_channels = 3

    @pytest.fixture(scope="class")
    @classmethod
    def pretrained(cls, tmp_path_factory):
        from training.checkpoint import Checkpoint
        from training.methods import pretrain
        from training.methods.diffusion_config import DiffusionConfig

        torch.set_num_threads(1)
        folder = tmp_path_factory.mktemp("ddpm")
        raster = write_geotiff(folder / "scene.tif", paint_block_scene(64, 16, seed=3)[0])
        config = DiffusionConfig(inputs=[str(raster)], patch_size=32, batch_size=4, epochs=1, patches_per_epoch=8,
                                 sample_steps=2, sample_count=1, base_channels=8,
                                 channel_mults=[1, 1, 2, 2, 2, 2], blocks_per_level=1, attention_levels=[4])
        return Checkpoint.load(pretrain("diffusion", config, folder / "ddpm.pt", resume=False).checkpoint)


def test_every_registered_architecture_has_a_contract_test():
    tested = {cls.architecture for cls in ArchitectureContract.__subclasses__()}
    assert tested == set(ARCHITECTURES)
