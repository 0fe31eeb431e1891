/* A valid shared object that forgot to export the registration function. */
int wiremeter_something_else(void) { return 42; }
