/* SPDX-License-Identifier: MIT */
/* metric_names: the family table of metric_names.h. */
#include "metric_names.h"

const struct mh_metric_family mh_metric_families[MH_METRIC_LAST] = {
#define MH_METRIC_ROW_(id, name, type, help) {name, MH_METRIC_##type, help},
    MH_METRIC_FAMILIES(MH_METRIC_ROW_)
#undef MH_METRIC_ROW_
};

const char *
mh_metric_type_name(enum mh_metric_type t)
{
    return t == MH_METRIC_COUNTER ? "counter" : "gauge";
}
