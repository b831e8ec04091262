"""One epoch of SGD for the bag of embeddings, compiled with numba.

Why compiled: at batch size 1 a step is a few hundred multiply-adds, so any per-step Python (numpy
calls, autograd) costs many times the arithmetic. Why numba rather than a C++ torch extension: it
needs no compiler at install time and stays readable Python; the loop is plain enough that its
speed is within a small factor of fastText's C++ (benchmarks/bag_speed.py measures it).

The kernel is checked step by step against torch autograd in tests/test_student.py.
"""

from __future__ import annotations

import numba
import numpy as np

LOSS_KINDS = {"ce": 0, "kl": 1, "mse": 2}


@numba.njit(cache=True)
def _softmax(z: np.ndarray, temperature: float) -> np.ndarray:
    scaled = z / temperature
    e = np.exp(scaled - scaled.max())
    return e / e.sum()


@numba.njit(cache=True)
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@numba.njit(cache=True)
def _binary_cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    """Sum over labels of the BCE of sigmoid(z) against y, written so that exp never overflows."""
    return np.sum(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))


@numba.njit(cache=True)
def _loss_gradient(
    logits: np.ndarray,
    target: np.ndarray,
    label: np.ndarray,
    multi_label: bool,
    kind: int,
    temperature: float,
    soft_weight: float,
    hard_weight: float,
    grad: np.ndarray,
) -> float:
    """Loss of one row, times its weight in the batch mean; writes d(weighted loss)/d(logits) to `grad`.

    `label` is [class id] or, multi-label, one 0/1 per label; label[0] is -1 on rows with no label.
    kl: T^2 * KL(softmax(t/T) || softmax(s/T)), gradient T * (softmax(s/T) - softmax(t/T)) (Hinton et al.);
    multi-label, T^2 * BCE(sigmoid(s/T); sigmoid(t/T)) summed over labels, gradient T * (sigmoid(s/T) -
    sigmoid(t/T)). mse: mean over classes of (s - t)^2. Hard: cross-entropy, or BCE for multi-label.
    """
    grad[:] = 0.0
    loss = 0.0
    T = temperature
    if kind == 1 and soft_weight > 0 and multi_label:
        p_teacher = _sigmoid(target / T)
        loss += soft_weight * T**2 * _binary_cross_entropy(logits / T, p_teacher)
        grad += soft_weight * T * (_sigmoid(logits / T) - p_teacher)
    elif kind == 1 and soft_weight > 0:
        p_student, p_teacher = _softmax(logits, T), _softmax(target, T)
        loss += soft_weight * T**2 * np.sum(p_teacher * (np.log(p_teacher) - np.log(p_student)))
        grad += soft_weight * T * (p_student - p_teacher)
    elif kind == 2 and soft_weight > 0:
        diff = logits - target
        loss += soft_weight * np.mean(diff**2)
        grad += soft_weight * 2.0 * diff / diff.size
    if label[0] >= 0 and hard_weight > 0 and multi_label:
        y = label.astype(np.float64)
        loss += hard_weight * _binary_cross_entropy(logits, y)
        grad += hard_weight * (_sigmoid(logits) - y)
    elif label[0] >= 0 and hard_weight > 0:
        p = _softmax(logits, 1.0)
        loss -= hard_weight * np.log(p[label[0]])
        p[label[0]] -= 1.0
        grad += hard_weight * p
    return loss


@numba.njit(cache=True)
def _decided_right(logits: np.ndarray, label: np.ndarray, multi_label: bool) -> bool:
    """The argmax is the class; or, multi-label, every label's logit is on its side of 0."""
    if not multi_label:
        return np.argmax(logits) == label[0]
    for c in range(logits.shape[0]):
        if (logits[c] > 0) != (label[c] == 1):
            return False
    return True


@numba.njit(cache=True)
def sgd_epoch(
    embedding: np.ndarray,  # [V, D] float32, updated in place
    weight: np.ndarray,  # [C, D] float32, updated in place
    bias: np.ndarray,  # [C] float32, updated in place
    flat: np.ndarray,  # int64 token ids of every bag, concatenated
    starts: np.ndarray,  # int64 [N + 1]: bag r is flat[starts[r]:starts[r + 1]]
    order: np.ndarray,  # the rows in the order this epoch visits them
    batch_size: int,
    targets: np.ndarray,  # [N, C] float64 teacher logits (unused by kind ce)
    labels: np.ndarray,  # [N, 1] int64 class ids, or [N, C] 0/1 with multi_label; -1 where a row has no label
    multi_label: bool,
    kind: int,  # LOSS_KINDS
    temperature: float,
    alpha: float,  # weight of the hard-label loss mixed into a soft one
    lr_first: float,  # learning rate of the first step; it moves linearly to lr_last at the last step
    lr_last: float,
    grad_clip: float,  # max norm of the whole embedding gradient of a step; 0: none
) -> tuple[float, int]:
    """Mean-loss SGD over `order` in batches. Returns (sum over rows of the batch-mean loss, correct labelled)."""
    num_classes, dim = weight.shape
    n = order.shape[0]
    n_batches = (n + batch_size - 1) // batch_size
    longest = 0
    for r in range(starts.shape[0] - 1):
        longest = max(longest, starts[r + 1] - starts[r])
    # The embedding gradient is sparse: one slot per distinct token of the batch.
    slot_of = np.full(embedding.shape[0], -1, dtype=np.int64)
    touched = np.zeros(min(embedding.shape[0], batch_size * longest), dtype=np.int64)
    grad_rows = np.zeros((touched.shape[0], dim))
    hidden = np.zeros((batch_size, dim))
    logits = np.zeros((batch_size, num_classes))
    grad_logits = np.zeros((batch_size, num_classes))
    grad_hidden = np.zeros(dim)
    soft_weight = 0.0 if kind == 0 else 1.0 - alpha
    hard_weight = 1.0 if kind == 0 else alpha
    total_loss, correct = 0.0, 0
    for b in range(n_batches):
        lr = lr_first + (lr_last - lr_first) * b / max(n_batches - 1, 1)
        rows = order[b * batch_size : min((b + 1) * batch_size, n)]
        size = rows.shape[0]
        labelled = 0
        for i in range(size):
            r = rows[i]
            labelled += labels[r, 0] >= 0
            count = starts[r + 1] - starts[r]
            hidden[i, :] = 0.0
            for k in range(starts[r], starts[r + 1]):
                for d in range(dim):
                    hidden[i, d] += embedding[flat[k], d]
            if count > 0:
                hidden[i, :] /= count
            for c in range(num_classes):
                logits[i, c] = bias[c]
                for d in range(dim):
                    logits[i, c] += weight[c, d] * hidden[i, d]
            if labels[r, 0] >= 0 and _decided_right(logits[i], labels[r], multi_label):
                correct += 1
        batch_loss = 0.0
        for i in range(size):
            batch_loss += _loss_gradient(
                logits[i],
                targets[rows[i]],
                labels[rows[i]],
                multi_label,
                kind,
                temperature,
                soft_weight / size,
                hard_weight / max(labelled, 1),
                grad_logits[i],
            )
        total_loss += batch_loss * size
        # Backward, with every gradient taken at the weights before this step.
        n_touched = 0
        for i in range(size):
            r = rows[i]
            count = starts[r + 1] - starts[r]
            if count == 0:
                continue
            grad_hidden[:] = 0.0
            for c in range(num_classes):
                for d in range(dim):
                    grad_hidden[d] += grad_logits[i, c] * weight[c, d]
            grad_hidden /= count
            for k in range(starts[r], starts[r + 1]):
                token = flat[k]
                if slot_of[token] < 0:
                    slot_of[token] = n_touched
                    touched[n_touched] = token
                    grad_rows[n_touched, :] = 0.0
                    n_touched += 1
                for d in range(dim):
                    grad_rows[slot_of[token], d] += grad_hidden[d]
        scale = 1.0
        if grad_clip > 0:
            norm = np.sqrt(np.sum(grad_rows[:n_touched] ** 2))
            if norm > grad_clip:
                scale = grad_clip / norm
        for i in range(size):
            for c in range(num_classes):
                bias[c] -= lr * grad_logits[i, c]
                for d in range(dim):
                    weight[c, d] -= lr * grad_logits[i, c] * hidden[i, d]
        for s in range(n_touched):
            for d in range(dim):
                embedding[touched[s], d] -= lr * scale * grad_rows[s, d]
            slot_of[touched[s]] = -1
    return total_loss, correct
