"""Assets: the factory that turns configured tables into asset pairs, and their jobs and schedules."""
