"""The markdown report, one function per section; each reads only metrics.json's results and params."""

from __future__ import annotations

from distillery.core.params import param
from distillery.evaluation.keys import model_key, pair_key
from distillery.evaluation.statistics import dev_noise
from distillery.evaluation.thresholds import MIN_POSITIVES
from distillery.report.serving import serving_choices
from distillery.report.titles import MODEL_TITLES, REPORT_ORDER
from distillery.report.verdict import budget_bound, budget_param, verdict, warnings


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _accuracy(row: dict) -> str:
    sd = row.get("accuracy_sd")
    return f"{row['accuracy']:.4f}" + (f" ± {sd:.4f}" if sd else "")


def p_value(p: float) -> str:
    """Scientific notation below 0.001, so a tiny p never prints as 0."""
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def _setting(chosen: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in chosen.items())


def render_report(results: dict, params: dict, label_names: list[str]) -> str:
    """The markdown report: warnings, the leaderboard, each student against its twin, what was chosen on
    dev, and a verdict. Each section is a function of metrics.json (and params) alone."""
    sections = [
        ["# distillery report", ""],
        [f"> **Warning.** {warning}\n" for warning in warnings(results, params)],
        setup_section(results, params, label_names),
        [leaderboard_table(results), "", *budget_note(results)],
        serving_section(results),
        multi_label_section(results, label_names),
        twins_section(results),
        chosen_on_dev_section(results, params),
        ["## Verdict", "", verdict(results), "", FOOTNOTE, ""],
    ]
    return "\n".join(line for section in sections for line in section)


FOOTNOTE = (
    "Examples/s: batched inference on this machine, measured side by side (fastText: its own `predict`, "
    "one thread); latency: the median over single test texts, one thread, from token ids (tokenizing "
    "excluded; the teacher in torch fp32, as the students), the baselines' from the raw text in their own "
    "stages (their own word splitting included). Both vary from run to run. Accuracy against latency: "
    "`pareto.png`; learning curves (mean over seeds): `learning_curves.png`; or `dvc plots show`."
)


def setup_section(results: dict, params: dict, label_names: list[str]) -> list[str]:
    """One paragraph: the test set, the teacher, and how each student was trained."""
    bag = results[model_key("bag", "student")]
    seeds = list(bag["accuracy_per_seed"])
    kind = "labels, multi-label" if "multi_label" in results["teacher"] else "classes"
    labelling = results["teacher"]["labelling"]
    return [
        f"Test set: {results['data']['test']} examples, {len(label_names)} {kind} ({', '.join(label_names)}). "
        f"Teacher: `{param(params, 'teacher.model')}`, scored and timed in torch fp32; the logits the students "
        f"learned from were made at {labelling['infer_precision']} (test accuracy {labelling['accuracy']:.4f}, "
        f"the same prediction as fp32 on {labelling['agreement_with_fp32']:.1%} of test texts). "
        f"Bag models: {len(seeds)} seeds ({', '.join(seeds)}), "
        f"recipe `{param(params, 'bag.recipe')}`, lr {param(params, 'lr')}, {bag_start(params)}"
        f"dim {param(params, 'bag.dim')}, at most {param(params, 'bag.epochs')} epochs; the student's "
        f"loss is {param(params, 'bag.loss')} (T={param(params, 'bag.temperature')}, "
        f"alpha={param(params, 'bag.alpha')}) over {seen(bag)}. "
        + " ".join(encoder_setup(results, params, arch) for arch in ("transformer", "bilstm")),
        "",
        labels_seen(results),
        "",
    ]


def labels_seen(results: dict) -> str:
    """How many labels every model saw: train's to learn from, dev's to choose with; test's only scored."""
    data = results["data"]
    seen, dropped = data["labels_seen"], data["labels_dropped"]
    line = (
        f"Labels: every model learned from {seen['train']:,} labelled training texts and made every choice on "
        f"{seen['dev']:,} labelled dev texts; the {data['test']:,} test labels were only scored."
    )
    if dropped["train"] or dropped["dev"]:
        line += (
            f" With `data.train_labels`, dev keeps only its share of the label budget: {dropped['train']:,} training "
            f"and {dropped['dev']:,} dev texts joined the unlabelled pool without their labels."
        )
    return line


def leaderboard_table(results: dict) -> str:
    """Every model: test and dev accuracy, the student's delta over its twin, size and speed."""
    teacher = results["teacher"]

    def speed(row: dict) -> str:
        return f"{row['examples_per_s']:,.0f} ({row['examples_per_s'] / teacher['examples_per_s']:,.0f}x)"

    def against_twin(name: str) -> str:
        arch, _, role = name.rpartition("_")
        if role != "student":
            return ""
        pair = results[pair_key(arch)]
        ps = ", ".join(p_value(p) for p in pair["mcnemar_p_per_seed"].values())
        return f"{100 * pair['delta']:+.1f} (p {ps})"

    def texts(row: dict) -> str:
        labelled = row.get("labelled_examples", results["data"]["train"])  # the teacher and baselines: train
        teacher_labelled = sum(row.get("teacher_labelled_examples", {}).values())
        return f"{labelled:,}" + (f" + {teacher_labelled:,}" if teacher_labelled else "")

    rows, bound = [], budget_bound(results)
    for name, title in MODEL_TITLES.items():
        if name not in results:  # an export that did not run
            continue
        row = results[name]
        dev, latency, disk = row.get("dev_accuracy"), row.get("latency_ms"), row.get("disk_mb")
        rows.append(
            [
                title + (" †" if name in bound else ""),
                _accuracy(row),
                "" if dev is None else f"{dev:.4f}",
                texts(row),
                against_twin(name),
                f"{100 * (row['accuracy'] - teacher['accuracy']):+.1f}",
                f"{row['params']:,}",
                "" if disk is None else f"{disk:,.1f}",
                speed(row),
                "" if latency is None else f"{latency:.2f} ({teacher['latency_ms'] / latency:,.1f}x)",
                row.get("note", ""),
            ]
        )
    header = [
        "model",
        "test accuracy (mean ± sd over seeds)",
        "dev accuracy",
        "texts learned from: labelled + teacher-labelled",
        "Δ vs its twin, points (McNemar p per seed)",
    ]
    header += ["Δ vs teacher", "parameters", "size (MB)", "examples/s, batched (vs teacher)"]
    header += ["latency, ms, one text on one thread (speed-up)", "settings"]
    return markdown_table(header, rows)


def budget_note(results: dict) -> list[str]:
    """The footnote to the leaderboard's † rows: models whose epoch budget, not dev, ended their training."""
    bound = budget_bound(results)
    if not bound:
        return []
    models = "; ".join(f"{MODEL_TITLES[name]} ({seeds})" for name, seeds in bound.items())
    raise_params = ", ".join(f"`{name}`" for name in dict.fromkeys(budget_param(name) for name in bound))
    return [
        f"† Still improving when its epoch budget ran out (the epoch kept was the last one trained, so early "
        f"stopping on dev never ended it): {models}. It may do better with more epochs: raise {raise_params}.",
        "",
    ]


def serving_section(results: dict) -> list[str]:
    """Which export folder to serve under a few single-text latency budgets on this machine, chosen on dev."""
    keys = [model_key(arch, "export") for arch in REPORT_ORDER]
    exports = {key: results[key] for key in keys if key in results}
    if not exports:
        return []
    metric = next(iter(exports.values()))["dev_metric"].replace("_", "-")
    rows = [
        [
            f"{budget:g}",
            f"`data/export/{key.removesuffix('_export')}` ({exports[key]['model_file']})",
            f"{exports[key]['dev_score']:.4f}",
            f"{exports[key]['accuracy']:.4f}",
            f"{exports[key]['latency_ms']:.2f}",
            f"{exports[key]['disk_mb']:.1f}",
        ]
        for budget, key in serving_choices(exports)
    ]
    header = ["latency budget, ms", "serve", f"dev {metric} (chooses)", "test accuracy", "latency, ms", "MB"]
    return [
        "## Which export to serve",
        "",
        "The export folders are what leaves the repository (`python predict.py MODEL_DIR`); their rows above are "
        "measured through predict.py's own path, tokenizing included. For each single-text latency budget on this "
        "machine (one thread), the folder with the best dev score within it; test is shown, never used.",
        "",
        markdown_table(header, rows),
        "",
    ]


def twins_section(results: dict) -> list[str]:
    """Each student against its twin: the delta, its bootstrap interval, McNemar per seed."""
    rows = []
    for arch in REPORT_ORDER:
        pair, student = results[pair_key(arch)], results[model_key(arch, "student")]
        rows.append(
            [
                MODEL_TITLES[model_key(arch, "student")],
                f"{100 * pair['delta']:+.2f}",
                "[{:+.2f}, {:+.2f}]".format(*(100 * x for x in pair["delta_ci95"])),
                ", ".join(f"{seed}: {p_value(p)}" for seed, p in pair["mcnemar_p_per_seed"].items()),
                f"{student['agreement_with_teacher']:.4f}",
            ]
        )
    header = ["student", "Δ vs twin (points)", "bootstrap 95% interval", "McNemar p per seed", "agreement with teacher"]
    reached = results[pair_key("bag")].get("student_epochs_to_twin_final")
    return [
        "## Each student against its twin",
        "",
        markdown_table(header, rows),
        "",
        f"The bag student reached its twin's final test accuracy after {reached} epochs."
        if reached
        else "The bag student never reached its twin's final test accuracy at any epoch.",
        "",
    ]


def chosen_on_dev_section(results: dict, params: dict) -> list[str]:
    """Everything that was chosen, and on what: dev only."""
    bag, bag_twin = results[model_key("bag", "student")], results[model_key("bag", "twin")]
    teacher = results["teacher"]
    encoders = [model_key(arch, role) for arch in REPORT_ORDER if arch != "bag" for role in ("student", "twin")]
    return [
        "## Chosen on dev",
        "",
        "Every choice below looked at the dev split only; test labels were used for the numbers above and for "
        "nothing else.",
        "",
        f"- Bag models, the epoch kept (best dev accuracy) per seed: student "
        f"{_setting(bag['best_epoch_per_seed'])}; twin {_setting(bag_twin['best_epoch_per_seed'])}.",
        f"- Bag student, the shares of the transfer set and the pool it trains on: transfer {bag['transfer']}, "
        f"pool {bag['pool']} (mean dev accuracy per mix tried: {mix_trials(bag)})"
        f"{noise_note(results, [figures['accuracy'] for figures in bag['dev_per_mix'].values()])}.",
        f"- fastText, tuned: {_setting(results['fasttext_tuned']['chosen'])}, best of "
        f"{len(results['fasttext_tuned']['trials'])} settings of `baselines.fasttext_grid`"
        f"{noise_note(results, [t['dev_accuracy'] for t in results['fasttext_tuned']['trials']])}.",
        f"- scikit-learn: {_setting(results['sklearn']['chosen'])}, best of "
        f"{len(results['sklearn']['trials'])} settings of `baselines.sklearn_grid`"
        f"{noise_note(results, [t['dev_accuracy'] for t in results['sklearn']['trials']])}.",
        setfit_choice(results),
        teacher_note(teacher, params),
        f"- Bag models, epochs trained per seed (at most {param(params, 'bag.epochs')}, patience "
        f"{param(params, 'bag.patience')}): student {_setting(bag['epochs_trained_per_seed'])}; "
        f"twin {_setting(bag_twin['epochs_trained_per_seed'])}.",
        *[
            f"- {MODEL_TITLES[name]}: epochs trained per seed {_setting(results[name]['epochs_trained_per_seed'])}, "
            f"kept {_setting(results[name]['best_epoch_per_seed'])}"
            f"{cooldown_note(results[name].get('cooldown_per_seed'))}."
            for name in encoders
        ],
        "- The defaults in params.yaml (lr, recipe, temperature, alpha, transfer, epochs, n_iter) come from the "
        "dev sweeps in docs/defaults.md.",
        dev_size_note(results),
        "",
    ]


def teacher_note(teacher: dict, params: dict) -> str:
    """How the teacher was made (teacher.method) and, where several methods were tried, what each scored on dev."""
    method = teacher.get("method", "finetune")
    figure = "loss" if "multi_label" in teacher else "accuracy"  # what chose, as selection.choose_on_dev
    if method == "probe":
        pooling = teacher["pooling"]
        per_c = {c: f"{score[figure]:.4f}" for c, score in teacher["dev_per_C"].items()}
        made = (
            f"- Teacher: a probe, the encoder frozen ({pooling['mode']} pooling"
            f"{', normalised' if pooling['normalize'] else ''}) under logistic regression, C {teacher['C']} "
            f"(dev {figure} per C of `teacher.probe_c`: {_setting(per_c)})"
        )
    elif method == "as_is":
        made = "- Teacher: taken as it is (`teacher.fine_tune: false`)"
    else:
        made = (
            f"- Teacher: fine-tuned {teacher['epochs_trained']} epochs, kept epoch {teacher['best_epoch']} (best dev; "
            f"at most {param(params, 'teacher.epochs')} epochs, patience {param(params, 'teacher.patience')})"
            f"{cooldown_note(teacher.get('cooldown'))}"
        )
    tried = teacher.get("dev_per_method", {})
    if len(tried) > 1:
        figures = {name: f"{score[figure]:.4f}" for name, score in tried.items()}
        made += f"; dev {figure} chose it among `teacher.method`: {_setting(figures)}"
    return made + "."


def cooldown_note(cooldown: dict | None) -> str:
    """What the cooldown of the kept epoch's weights did (training/schedule.py): the teacher's, or one per seed."""
    if not cooldown:
        return ""
    if "steps" in cooldown:
        verdict = "dev kept the cooled weights" if cooldown["kept"] else "dev kept the epoch's own"
        return f", then cooled down for {cooldown['steps']} steps ({verdict})"
    runs = {seed: f"{run['steps']} steps, {'kept' if run['kept'] else 'not kept'}" for seed, run in cooldown.items()}
    return f", then cooled down: {_setting(runs)}"


def noise_note(results: dict, dev_scores: list[float]) -> str:
    """Said after a choice whose best two dev accuracies dev cannot tell apart (stats.dev_noise); multi-label
    choices are made by dev BCE, which this does not judge."""
    if len(dev_scores) < 2 or "multi_label" in results["teacher"]:
        return ""
    best, runner_up = sorted(dev_scores, reverse=True)[:2]
    noise = dev_noise(results["data"]["dev"], best)
    if best - runner_up >= noise:
        return ""
    relation = "tied with" if best == runner_up else "within dev's noise of"
    return f" ({relation} the runner-up, {runner_up:.4f}: dev cannot tell them apart)"


def dev_size_note(results: dict) -> str:
    """What dev's size allows: the gap two dev accuracies need, and what the export gate's test can see."""
    dev, teacher = results["data"]["dev"], results["teacher"]
    line = (
        f"- Dev has {dev:,} labelled texts (one text is {100 / dev:.2g} points): two settings near the teacher's dev "
        f"accuracy need about {100 * dev_noise(dev, teacher['dev_accuracy']):.1f} points between them before dev can "
        "tell them apart; choices closer than that are marked above, and the earliest candidate wins a tie."
    )
    if dev < 200:
        line += (
            " At this size the export gate's McNemar test can reject only large differences; its half-point rule "
            "still refuses a compressed copy that loses a single dev text net."
        )
    return line


def setfit_choice(results: dict) -> str:
    """SetFit's line among the choices: what dev chose, or why it did not run."""
    if "setfit" not in results:
        return f"- SetFit did not run: {results['data']['setfit_skipped']}."
    setfit = results["setfit"]
    return (
        f"- SetFit ({setfit['body']}): {_setting(setfit['chosen'])}, best of {len(setfit['trials'])} settings of "
        f"`baselines.setfit_grid` (steps are checkpoints of one run per learning rate)"
        f"{noise_note(results, [t['dev_accuracy'] for t in setfit['trials']])}."
    )


def mix_trials(student: dict) -> str:
    """A student's mean dev accuracy for each mix (transfer and pool shares) it tried."""
    return "; ".join(f"{mix}: {figures['accuracy']:.4f}" for mix, figures in student["dev_per_mix"].items())


FIGURE_KEYS = ("bce", "micro_f1", "macro_f1", "macro_f1_at_half", "macro_auc", "exact_match")


def multi_label_section(results: dict, label_names: list[str]) -> list[str]:
    """For multi-label data: every model's BCE, F1s, ROC-AUC and exact match, F1 per label, and the
    students' macro-F1 against their twins'. Nothing for single-label data."""
    if "multi_label" not in results["teacher"]:
        return []
    models = [name for name in MODEL_TITLES if "multi_label" in results.get(name, {})]
    figures = markdown_table(
        ["model", "BCE (mean over labels)", "micro-F1", "macro-F1", "macro-F1 at 0.5", "macro ROC-AUC", "exact match"],
        [[MODEL_TITLES[name]] + [f"{results[name]['multi_label'][key]:.4f}" for key in FIGURE_KEYS] for name in models],
    )
    per_label = markdown_table(
        ["model", *label_names],
        [
            [MODEL_TITLES[name]]
            + [f"{results[name]['multi_label']['f1_per_label'][label]:.3f}" for label in label_names]
            for name in models
        ],
    )
    pairs = markdown_table(
        ["student", "macro-F1 Δ vs twin (points)", "paired bootstrap 95% interval"],
        [
            [
                MODEL_TITLES[model_key(arch, "student")],
                f"{100 * results[pair_key(arch)]['macro_f1_delta']:+.2f}",
                "[{:+.2f}, {:+.2f}]".format(*(100 * x for x in results[pair_key(arch)]["macro_f1_delta_ci95"])),
            ]
            for arch in REPORT_ORDER
        ],
    )
    return [
        "## Multi-label figures",
        "",
        f"{len(label_names)} labels. A label is predicted when its probability is above that label's threshold: the "
        "one that gives the label its best F1 on dev, for each model and seed (0.5 for a label with fewer than "
        f"{MIN_POSITIVES} positive dev texts); test never chose one. Macro-F1 at 0.5 is beside it, for the untuned "
        'figure. "Accuracy" above is the exact-match rate (every label right), which McNemar\'s test pairs on. '
        "Students and seeds: the mean over seeds. Every model and epoch was chosen by its dev BCE.",
        "",
        figures,
        "",
        "F1 per label:",
        "",
        per_label,
        "",
        "Macro-F1, each student against its twin (test rows resampled, seeds pooled):",
        "",
        pairs,
        "",
    ]


def bag_start(params: dict) -> str:
    """The bag's tokenizer and where its vectors started (bag.model)."""
    tokenizer, vectors = param(params, "bag.model.tokenizer"), param(params, "bag.model.vectors")
    words = "" if tokenizer == "teacher" else f"`{tokenizer}`'s tokenizer, "
    source = "the teacher" if tokenizer == "teacher" else f"`{tokenizer}`"
    return words + (f"static vectors from {source} (Model2Vec), " if vectors == "static" else "")


def encoder_setup(results: dict, params: dict, arch: str) -> str:
    """One sentence on how an architecture was trained."""
    student = results[f"{arch}_student"]
    seeds = len(student["accuracy_per_seed"])
    if arch == "transformer":
        init, layers = param(params, "transformer.model.init"), param(params, "transformer.model.layers")
        cut = "all layers" if layers is None else f"layers {layers}"
        shape = f"{cut} of the teacher" if init == "teacher" else f"{cut} of `{init}` (student and twin, its tokenizer)"
    else:
        embeddings = param(params, "bilstm.model.embeddings")
        words = "the teacher's" if embeddings == "teacher" else f"`{embeddings}`'s (its tokenizer)"
        shape = f"one BiLSTM layer over {words} word embeddings"
    hidden = f", beta={param(params, 'transformer.beta')}" if arch == "transformer" else ""
    few_seeds = f" (to keep the default run short; raise `{arch}.n_seeds` for more)" if seeds == 1 else ""
    return (
        f"{arch}: {shape}, {seeds} seed{'s' * (seeds > 1)}{few_seeds}, at most {param(params, f'{arch}.epochs')} "
        f"epochs, loss {param(params, f'{arch}.loss')} (T={param(params, f'{arch}.temperature')}, "
        f"alpha={param(params, f'{arch}.alpha')}{hidden}) over {seen(student)}."
    )


def seen(student: dict) -> str:
    """The texts a student learned from: its labelled rows, and the teacher-labelled share of each set."""
    extra = student["teacher_labelled_examples"]
    return (
        f"{student['labelled_examples']:,} labelled texts, {extra['transfer']:,} of the transfer set "
        f"({student['transfer']:.0%}) and {extra['pool']:,} of the unlabelled pool ({student['pool']:.0%}), "
        "labelled by the teacher"
    )
