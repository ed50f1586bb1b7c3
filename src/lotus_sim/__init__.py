"""lotus_sim: a Lotus stand-in (daemon, lotus-miner, WindowPoSt worker) for spdrill's tests and demo."""
