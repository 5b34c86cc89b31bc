"""The paper's Table 2: VOT2014 ranks of GOTURN and the 38 challenge trackers.

Transcribed from Held et al. (ECCV 2016), Table 2, as printed: overall,
accuracy and robustness ranks for the "exact" (baseline) and "noisy"
(region_noise) experiments, and the speed in EFO units (VOT2014's
equivalent filter operations). Ranks are averaged over the attribute tags;
the overall rank is the mean of the accuracy and robustness ranks.
"""

from __future__ import annotations

from typing import NamedTuple


class Table2Row(NamedTuple):
    method: str
    overall_exact: float
    overall_noisy: float
    accuracy_exact: float
    accuracy_noisy: float
    robustness_exact: float
    robustness_noisy: float
    speed_efo: float


GOTURN_METHOD = "GOTURN (Ours)"

TABLE2 = (
    Table2Row("GOTURN (Ours)", 8.206944, 8.588319, 5.544841, 7.227564, 10.869048, 9.949074, 29.928769),
    Table2Row("SAMF", 9.970153, 9.297234, 5.866667, 5.685897, 14.073638, 12.908571, 1.617264),
    Table2Row("KCF", 10.368056, 9.341055, 5.533730, 5.583333, 15.202381, 13.098776, 24.226259),
    Table2Row("DSST", 9.193519, 9.393977, 5.979630, 5.855556, 12.407407, 12.932399, 5.803051),
    Table2Row("PLT 14", 10.526710, 9.412576, 14.720087, 13.726667, 6.333333, 5.098485, 62.846506),
    Table2Row("DGT", 10.633462, 9.880582, 11.719306, 9.318182, 9.547619, 10.442982, 0.231538),
    Table2Row("PLT 13", 11.045249, 11.066132, 18.340498, 17.298932, 3.750000, 4.833333, 75.915548),
    Table2Row("eASMS", 14.267836, 12.838634, 14.220760, 11.327036, 14.314912, 14.350232, 13.080900),
    Table2Row("HMMTxD", 15.398256, 14.663101, 10.070087, 9.727810, 20.726425, 19.598391, 2.075963),
    Table2Row("MCT", 15.376874, 15.313581, 16.806659, 17.576278, 13.947090, 13.050884, 1.447154),
    Table2Row("ABS", 19.651999, 15.340186, 20.666961, 15.344515, 18.637037, 15.335856, 0.623772),
    Table2Row("ACAT", 14.438846, 16.338981, 13.796118, 17.769841, 15.081575, 14.908122, 3.237589),
    Table2Row("MatFlow", 15.393888, 16.910356, 21.996109, 19.142094, 8.791667, 14.678618, 19.083821),
    Table2Row("LGTv1", 20.504135, 18.189239, 29.225131, 26.533460, 11.783138, 9.845018, 1.158273),
    Table2Row("ACT", 18.676877, 18.692439, 20.756783, 22.184568, 16.596972, 15.200311, 10.858222),
    Table2Row("VTDMG", 19.992574, 18.835055, 21.481942, 20.647094, 18.503205, 17.023016, 1.832097),
    Table2Row("qwsEDFT", 18.365675, 19.776101, 17.495604, 18.545589, 19.235747, 21.006612, 3.065546),
    Table2Row("BDF", 20.535189, 19.905596, 23.242965, 21.731090, 17.827413, 18.080103, 46.824844),
    Table2Row("Struck", 21.038417, 20.129413, 20.868501, 21.424688, 21.208333, 18.834137, 5.953411),
    Table2Row("ThunderStruck", 21.389674, 20.333286, 22.612468, 21.989153, 20.166880, 18.677419, 19.053603),
    Table2Row("DynMS", 21.141005, 20.479737, 22.815739, 21.510423, 19.466270, 19.449050, 2.650560),
    Table2Row("aStruck", 20.780963, 21.465762, 22.409722, 20.878854, 19.152203, 22.052670, 3.576635),
    Table2Row("SIR PF", 22.705212, 22.413896, 24.537547, 22.331205, 20.872878, 22.496587, 2.293901),
    Table2Row("Matrioska", 21.371144, 23.119954, 22.115980, 21.947863, 20.626308, 24.292044, 10.198580),
    Table2Row("EDFT", 22.516498, 23.176905, 20.338931, 22.141689, 24.694066, 24.212121, 3.297059),
    Table2Row("OGT", 22.463076, 23.528818, 14.810633, 16.893364, 30.115520, 30.164271, 0.393198),
    Table2Row("CMT", 22.788164, 23.852773, 20.098007, 22.612765, 25.478321, 25.092781, 2.507500),
    Table2Row("FoT", 23.003472, 24.375915, 19.388889, 21.623392, 26.618056, 27.128439, 114.643138),
    Table2Row("IIVTv2", 25.669987, 24.610138, 25.651061, 25.400309, 25.688913, 23.819967, 3.673112),
    Table2Row("IPRT", 25.014620, 25.081882, 27.564283, 26.643535, 22.464957, 23.520229, 14.688296),
    Table2Row("PTp", 27.288300, 25.208133, 33.046296, 30.268937, 21.530303, 20.147328, 49.892214),
    Table2Row("LT FLO", 23.958402, 26.020573, 17.075617, 20.843334, 30.841186, 31.197811, 1.096522),
    Table2Row("FSDT", 28.275770, 26.805519, 24.378835, 24.318730, 32.172705, 29.292308, 1.529770),
    Table2Row("IVT", 28.892955, 27.820781, 27.952576, 27.432765, 29.833333, 28.208796, 1.879526),
    Table2Row("IMPNCC", 27.566645, 29.293698, 26.570580, 29.349962, 28.562711, 29.237434, 5.983489),
    Table2Row("CT", 30.585835, 29.377864, 32.462103, 30.823647, 28.709566, 27.932082, 6.584306),
    Table2Row("FRT", 27.800316, 29.554293, 24.300128, 27.199856, 31.300505, 31.908730, 3.093665),
    Table2Row("NCC", 26.831924, 30.305656, 18.497180, 23.444646, 35.166667, 37.166667, 3.947948),
    Table2Row("MIL", 30.007762, 30.638921, 34.934175, 35.527778, 25.081349, 25.750064, 2.012286),
)

# The VOT toolkit's experiment names -> the paper's column names.
EXPERIMENT_COLUMNS = {"baseline": "exact", "region_noise": "noisy"}


def published_row(method: str = GOTURN_METHOD) -> Table2Row:
    """One method's row of Table 2 (KeyError when the paper does not list it)."""
    for row in TABLE2:
        if row.method == method:
            return row
    raise KeyError(f"{method!r} is not in the paper's Table 2")


def published_ranks(row: Table2Row, experiment: str) -> dict:
    """``{"accuracy", "robustness", "overall"}`` ranks of a row for ``baseline`` / ``region_noise``."""
    column = EXPERIMENT_COLUMNS[experiment]
    return {measure: getattr(row, f"{measure}_{column}")
            for measure in ("accuracy", "robustness", "overall")}
