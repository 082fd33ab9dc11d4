#include "policy/baseline.h"
