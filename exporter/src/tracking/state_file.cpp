#include "tracking/state_file.h"
