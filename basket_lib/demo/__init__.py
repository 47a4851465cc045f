"""The demo Jay Basket API; basket_lib.simulator re-exports its public names."""
