"""The typed client of the Jay Basket API: models, errors, validation, HTTP."""
