# SPDX-License-Identifier: MIT
# Synthetic - accept and never send a greeting.
# Expected probe result: CRITICAL / timeout / "no greeting within T s",
# ending at the probe's deadline (-t), never later.
hold
