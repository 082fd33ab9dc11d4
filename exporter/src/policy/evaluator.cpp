#include "policy/evaluator.h"
