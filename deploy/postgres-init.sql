-- reelflow's store uses the `reelflow` database; Prefect gets a database of its own.
CREATE DATABASE prefect OWNER reelflow;
