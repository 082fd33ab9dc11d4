#include "tracking/connection_ages.h"
