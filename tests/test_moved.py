"""Old import paths: every module that moved into the layer folders still imports from its old name, with one
DeprecationWarning that names its new home and points at the line that used it, and still gives every public
name it had, as the new modules' own objects."""

import importlib
import sys
import warnings

import pytest

import inertia
from inertia._moved import MOVED, OldPath

# Every public name each old module defined before the move (read from its source then), but one: the report's
# sweep_heatmap, which averaged over axes it did not show, is sweep_heatmaps (one heatmap per setting of them).
# (The report's CLASS_COLORS is the one class-colour map of inertia.plots now.)
OLD_NAMES = {
    "rules": "Adam AdamW Constant Cosine FORMS InverseTime Momentum OPTIMIZERS QHM RMSprop SLOTS Step UPDATE_FIELDS "
             "Update apply check_hyperparameters check_momentum convert initial_state momentum_step parse schedule "
             "stack",
    "forms": "NoEquivalent convert qhm_to_sgd",
    "kernels": "ACTIVATIONS BLOCK FAST LANE SIGMOID apply_update layout member_order score_block train_epoch",
    "deep_kernels": "shape_table train_epoch",
    "gpu_kernels": "ACTIVATIONS apply_update launch_shape shuffle_orders train_epoch",
    "vecmath": "EXACT FAST exp exp32 like log log32",
    "comparison": "CompareConfig Comparison HOLDS LAB_MOMENTA OUTPUT_FILES Run TABLE_METRICS compare "
                  "effective_lr_sentences snapshot_epochs",
    "reproduce": "CLAIMS LAB_SEED LabResult check_claims lab oscillation",
    "batch_study": "BatchStudy OUTPUT_FILES StudyConfig TARGETS batch_study",
    "nqm": "BATCH_SIZES BatchScaling Claim DIMENSIONS Dynamics LEARNING_RATES LONGEST MOMENTA Problem "
           "SGD_LEARNING_RATES TARGET batch_scaling check_claims critical_batch_size expected_losses problem reference "
           "stable transition",
    "nqm_kernel": "expected_losses",
    "valley": "FUNCTIONS Roll Trajectory ball_figure bumpy_valley memory phase_figure roll save_animation slopes "
              "trajectories_figure trajectory what_the_ball_sees",
    "theory": "critical_beta gd_rate iteration_matrix measured_rate optimal rate rate_figure stable_alpha worst_rate",
    "velocity": "VelocityResult WAYS binary_model train_three_ways",
    "stability": "edges hessian_lambda_max",
    "experiment": "AXES EXTRA_KEYS MODEL_KEYS OPTIMIZERS OPTIMIZER_KEYS SCHEDULES Spec SpecError TABLES TARGETS "
                  "TRAIN_KEYS canonical config_id expand flatten load_spec parse_spec resolve validate",
    "sweep": "EXECUTORS MEMBER_KEYS SweepReport check_environment dataset_of group_key plan rule_of run_configs sweep",
    "store": "APPLICATION_ID Record SCHEMA SCHEMA_VERSION Store check_store_path open",
    "results": "LOWER_IS_BETTER METRICS NOT_SETTING Results describe parse_baseline",
    "report": "CLASS_COLORS PALETTE STYLE ball_block baseline_conclusions command_line compare_report conclusions "
              "curve_chart default_output regions_block sweep_heatmaps sweep_report write_report",
    "study_report": "command_line study_page write_study_report",
    "sweep_plots": "LABELS heatmap parallel_coordinates save_all",
    "tensorboard": "SCALARS check_available write_comparison write_run write_store",
}
# Names that never moved: the package's own, and the packages that kept their name.
KEPT = {
    "inertia": "compare Comparison Dataset MLP Momentum History fit",
    "inertia.optim": "HYPERPARAMETERS Momentum QHM for_rule",
    "inertia.population": "ACTIVATIONS ENGINES Member PopulationResult choose_engine chunk_sizes flat_weights "
                          "initial_losses member_bytes train_population triton_runs_on unflatten_weights",
    "inertia.cli": "app",
}


def forget(old: str) -> None:
    """Undo an earlier import of an old name, so that importing it again warns again."""
    sys.modules.pop(f"inertia.{old}", None)
    inertia.__dict__.pop(old, None)


def test_every_old_module_is_in_the_table_and_every_new_home_imports():
    assert {name.removeprefix("inertia.") for name in MOVED} == set(OLD_NAMES)
    for targets in MOVED.values():
        for target in targets:
            importlib.import_module(target)


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_an_old_path_imports_with_a_warning_and_keeps_every_name(old):
    forget(old)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"inertia.{old}")
    moved = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(moved) == 1, [str(w.message) for w in caught]
    assert str(moved[0].message).startswith(f"inertia.{old} has moved to {MOVED[f'inertia.{old}'][0]}")
    assert moved[0].filename == __file__  # the line that imported it, not the import system's
    homes = [importlib.import_module(target) for target in MOVED[f"inertia.{old}"]]
    for name in OLD_NAMES[old].split():
        home = next((h for h in homes if hasattr(h, name)), None)
        assert home is not None, f"inertia.{old}.{name} is nowhere in {MOVED[f'inertia.{old}']}"
        assert getattr(module, name) is getattr(home, name)


def test_an_old_name_with_one_home_is_that_module_and_keeps_its_spec():
    forget("valley")
    with pytest.warns(DeprecationWarning):
        old = importlib.import_module("inertia.valley")
    from inertia.studies import valley

    assert old is valley and valley.__spec__.name == valley.__name__ == "inertia.studies.valley"


def test_a_split_module_searches_its_new_homes_in_order():
    forget("rules")
    with pytest.warns(DeprecationWarning, match="inertia.optim.rules, inertia.optim.update"):
        from inertia import rules
    from inertia.optim import rules as new_rules
    from inertia.optim import schedules, update

    assert isinstance(rules, OldPath)
    assert rules.Momentum is new_rules.Momentum and rules.apply is update.apply and rules.Cosine is schedules.Cosine
    assert {"Momentum", "apply", "Cosine", "check_momentum"} <= set(dir(rules)) and "Cosine" in rules.__all__
    with pytest.raises(AttributeError, match=r"moved to inertia\.optim\.rules"):
        rules.not_a_name  # noqa: B018


def test_the_names_that_kept_their_home_import_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for module, names in KEPT.items():
            imported = importlib.import_module(module)
            for name in names.split():
                assert getattr(imported, name) is not None, f"{module}.{name}"
