"""The files a member gets (templates and scripts), shipped as package data of `vrrp_pair`."""
