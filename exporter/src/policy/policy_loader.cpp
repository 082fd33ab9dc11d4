#include "policy/policy_loader.h"
