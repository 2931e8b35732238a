"""The paper's claims checked against the study's paired measurements: the verdict follows the
interval's sign in the claimed direction, whichever order the study paired the two runs in."""

from proxytask.paired import Comparison
from proxytask.records import FeatureChangeRecord, StudyResults
from proxytask.report.claims import CONTRADICTED, NOT_SHOWN, SUPPORTED, claim_rows
from proxytask.variants import Member, Variant, VariantSet


def pair(init, baseline, low, high, role, mode="finetune", k=10):
    return Comparison(init, baseline, mode, k, "accuracy", (low + high) / 2, low, high, 3, (0,), (0,), role, 1)


def study(comparisons=(), sets=(), feature_change=()):
    config = {"tasks": ["denoising"], "budgets": ["10"], "analysis_budgets": ["10"]}
    return StudyResults(config, {}, "cpu", {}, [], {}, [], list(comparisons), [], [], list(sets), list(feature_change))


LOSS = VariantSet("loss", "Loss formulation", (Member(Variant("colorization"), "KL"), Member(Variant("colorization-lab"), "Lab"),
                                               Member(Variant("colorization-l2"), "L2")))


def test_loss_claims_follow_the_interval_in_the_claimed_direction():
    # The study pairs each later member minus each earlier one: L2 minus KL below zero supports "KL beats L2".
    rows = claim_rows(study([pair("colorization-l2", "colorization", -0.08, -0.02, "loss"),
                             pair("colorization-lab", "colorization", 0.01, 0.05, "loss")], [LOSS]))
    verdicts = {row.claim: row.verdict for row in rows}
    assert verdicts["Histogram losses beat L2 regression of colour"] == SUPPORTED
    assert verdicts["Hue/chroma KL is at least as good as Lab bins"] == CONTRADICTED
    assert "+5.0 points [+2.0, +8.0]" in next(row.measurement for row in rows if row.claim.startswith("Histogram"))


def test_a_claim_whose_interval_holds_zero_is_not_shown_and_an_analysis_not_run_has_no_row():
    rows = claim_rows(study([pair("colorization-l2", "colorization", -0.03, 0.02, "loss"),
                             pair("colorization-lab", "colorization", -0.03, 0.02, "loss")], [LOSS]))
    assert {row.verdict for row in rows} == {NOT_SHOWN}
    assert claim_rows(study()) == []


def test_feature_change_claims_read_the_stages_of_the_fine_tuned_networks():
    def record(init, seed, cka):
        return FeatureChangeRecord(init, "intensity", seed, 10, 0, 0.5, [0.1] * len(cka), cka, 1.0)

    records = [record("colorization", s, [0.95 + 0.01 * s, 0.6, 0.30 + 0.02 * s]) for s in range(3)]
    records += [record("supervised", s, [0.97, 0.8, 0.50 + 0.01 * s]) for s in range(3)]
    verdicts = {row.claim: row.verdict for row in claim_rows(study(feature_change=records))}
    assert verdicts["Fine-tuning changes the upper layers far more than the lower ones"] == SUPPORTED
    assert verdicts["A colorization network changes more in fine-tuning than a supervised one"] == SUPPORTED
