"""What every pretraining algorithm must do, checked the same way for each method.

One tester class holds the contract (segmentation_models.pytorch's ``BaseModelTester``
pattern); each method subclasses it with a few-second setting. The contract: every config
field is a parameter with a translated label and help; RESUME is off by default; a run
writes a finished checkpoint of its method and a diagnostic PNG; cancelling raises (so
qgis_process exits non-zero) and keeps the state reached; a bad value names its parameter.
What only one method does stays in test_grass*.py, test_sdcluster*.py, test_diffusion*.py.
"""
from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("qgis.core")
torch = pytest.importorskip("torch")

from helpers import write_geotiff
from test_i18n import ts_translations

from training.data.synthetic import paint_block_scene
from training.methods import CONFIGS


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


class PretrainContract:
    """Subclasses set the algorithm, a tiny run and one bad setting with the message expected."""

    method = ""
    algorithm = ""
    diagnostic = ""          # glob of the method's PNGs in <checkpoint>_diagnostics/
    tiny: dict = {}          # parameters of a run of a few seconds
    bad: tuple = ({}, "")    # parameters that the method refuses, and the parameter name the message holds

    def run(self, tmp_path, feedback=None, **overrides):
        import processing

        raster = write_geotiff(tmp_path / "scene.tif", paint_block_scene(96, 24, seed=2)[0])
        params = {"INPUT": [str(raster)], "DEVICE": 1, "OUTPUT_CHECKPOINT": str(tmp_path / "out.pt"),
                  **self.tiny, **overrides}
        return processing.run(f"rsseg:{self.algorithm}", params, feedback=feedback)

    def test_every_config_field_is_a_parameter_with_translated_label_and_help(self, rsseg_provider):
        from plugin.algorithms.pretrain_base import HANDLED_FIELDS, field_parameter
        from plugin.algorithms.pretrain_fields import FIELD_TEXTS
        from training.methods import config_class

        algorithm = rsseg_provider.algorithm(self.algorithm)
        params = {p.name(): p for p in algorithm.parameterDefinitions()}
        translated = ts_translations()
        for f in dataclasses.fields(config_class(self.method)):
            if f.name in HANDLED_FIELDS or f.name in algorithm.main_fields():
                continue
            name = field_parameter(f.name)
            assert name in params, f"{self.algorithm}: config field {f.name} has no parameter {name}"
            assert f.name in FIELD_TEXTS, f"{f.name}: add its label and help to plugin/algorithms/pretrain_fields.py"
            label, help_text = FIELD_TEXTS[f.name]
            assert params[name].description() == label and params[name].help() == help_text
            for text in (label, help_text):
                assert ("PretrainAlgorithm", text) in translated, f"{f.name}: {text!r} has no zh_CN translation"

    def test_resume_is_off_by_default(self, rsseg_provider):
        resume = rsseg_provider.algorithm(self.algorithm).parameterDefinition("RESUME")
        assert resume is not None and resume.defaultValue() is False

    def test_run_writes_a_finished_checkpoint_and_a_diagnostic_png(self, qgis_app, tmp_path):
        from training.checkpoint import Checkpoint

        result = self.run(tmp_path)
        checkpoint = Checkpoint.load(result["OUTPUT_CHECKPOINT"])
        assert checkpoint.method == self.method and checkpoint.finished and checkpoint.encoder_state
        pictures = list((tmp_path / "out_diagnostics").glob(self.diagnostic))
        assert pictures and pictures[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_cancel_raises_and_keeps_the_state_reached(self, qgis_app, tmp_path):
        from qgis.core import QgsProcessingException, QgsProcessingFeedback

        from training.checkpoint import Checkpoint

        class CancelAtFirstProgress(QgsProcessingFeedback):
            def setProgress(self, progress):
                super().setProgress(progress)
                self.cancel()

        with pytest.raises(QgsProcessingException, match="Cancelled.*RESUME"):
            self.run(tmp_path, feedback=CancelAtFirstProgress())
        kept = Checkpoint.load(tmp_path / "out.pt")
        assert kept.method == self.method and not kept.finished

    def test_bad_setting_names_its_parameter(self, qgis_app, tmp_path):
        from qgis.core import QgsProcessingException

        overrides, parameter = self.bad
        with pytest.raises(QgsProcessingException, match=parameter):
            self.run(tmp_path, **overrides)
        assert not (tmp_path / "out.pt").exists()


class TestPretrainGrass(PretrainContract):
    method, algorithm, diagnostic = "grass", "pretrain_grass", "grass_*.png"
    tiny = {"PATCH_SIZE": 64, "BATCH_SIZE": 2, "WARMUP_EPOCHS": 1, "EPOCHS": 2, "PATCHES_PER_EPOCH": 4,
            "OPTIMIZER": "adamw", "LEARNING_RATE": 0.05}
    bad = ({"BATCH_SIZE": 1}, "BATCH_SIZE")


class TestPretrainSdcluster(PretrainContract):
    method, algorithm, diagnostic = "sdcluster", "pretrain_sdcluster", "sdcluster_clusters_*.png"
    tiny = {"PATCH_SIZE": 64, "BATCH_SIZE": 4, "EPOCHS": 1, "PATCHES_PER_EPOCH": 8, "OUTPUT_STRIDE": 8,
            "PROJECTOR_HIDDEN": 64, "EMBEDDING_DIM": 32, "PREDICTOR_HIDDEN": 64, "PROTOTYPES": 8,
            "LR_REFERENCE_BATCH": 0}
    bad = ({"OUTPUT_STRIDE": 4}, "OUTPUT_STRIDE")


class TestPretrainDiffusion(PretrainContract):
    method, algorithm, diagnostic = "diffusion", "pretrain_diffusion", "diffusion_samples_*.png"
    tiny = {"PATCH_SIZE": 32, "BATCH_SIZE": 4, "EPOCHS": 1, "PATCHES_PER_EPOCH": 8, "LEARNING_RATE": 1e-3,
            "BASE_CHANNELS": 8, "CHANNEL_MULTS": "1,2,2", "ATTENTION_LEVELS": "2", "SAMPLE_STEPS": 2,
            "SAMPLE_COUNT": 2}
    bad = ({"SCHEDULE": "quadratic"}, "SCHEDULE")


def test_every_method_has_a_contract_test():
    assert {cls.method for cls in PretrainContract.__subclasses__()} == set(CONFIGS)


def test_every_field_text_belongs_to_a_config_field():
    """A renamed field must take its label and help along, not leave a dead entry behind."""
    from plugin.algorithms.pretrain_fields import FIELD_TEXTS
    from training.methods import config_class

    names = {f.name for method in CONFIGS for f in dataclasses.fields(config_class(method))}
    assert not set(FIELD_TEXTS) - names, sorted(set(FIELD_TEXTS) - names)
