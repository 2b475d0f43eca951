"""The body: the SMPL-X body model and its embedded stand-in, skeletons and joint orders, joint regressors."""
