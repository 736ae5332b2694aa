// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/// @title FAR token with staking.
/// @notice Stakers earn two things: a staking reward minted at `rewardRate` (basis points per
/// year) inside the supply cap, and a pro-rata share of inference revenue pushed in by the
/// payment contract through `distributeRevenue`.
/// @dev Fixes against the original spec:
///  - the spec minted MAX_SUPPLY at deploy and then minted rewards on top; here the cap is
///    enforced by ERC20Capped and rewards are minted only into the remaining headroom;
///  - the spec never paid the staker share to stakers; here a reward-per-token accumulator
///    splits every distribution pro rata to stake at that moment;
///  - a stake is locked for `lockPeriod` after the holder's latest stake, so a stake placed
///    just before a large distribution cannot leave right after it; the lock is never shorter
///    than MIN_LOCK_PERIOD, so it cannot be configured away.
contract FARToken is ERC20, ERC20Capped, ERC20Burnable, AccessControl, Pausable {
    bytes32 public constant REVENUE_ROLE = keccak256("REVENUE_ROLE");

    uint256 public constant MAX_SUPPLY = 1_000_000_000 ether;
    uint256 public constant MAX_REWARD_RATE = 10_000;
    uint256 public constant MAX_LOCK_PERIOD = 365 days;
    /// With no lock, stake → settlement → unstake → claim fits in one block and takes a cut of a
    /// settlement's staker share with no exposure. With a day's floor, a just-in-time stake stays
    /// through a day of other settlements (which dilute the one it aimed at) and of price moves:
    /// a position, not a risk-free trade. Longer locks stay the admin's choice (7 days by default).
    uint256 public constant MIN_LOCK_PERIOD = 1 days;
    uint256 private constant ACC_PRECISION = 1e18;
    uint256 private constant YEAR = 365 days;

    mapping(address => uint256) public stakingBalance;
    mapping(address => uint256) public unlockTime;
    /// Staking reward accrued up to the holder's last `_accrueHolder` and not yet minted.
    mapping(address => uint256) public rewardsEarned;
    /// Revenue share accrued up to the holder's last `_accrueHolder` and not yet claimed.
    mapping(address => uint256) public revenueShareEarned;
    mapping(address => uint256) public revenuePerTokenPaid;
    mapping(address => uint256) public rewardPerTokenPaid;

    uint256 public totalStaked;
    uint256 public rewardRate = 100;
    uint256 public lockPeriod;
    uint256 public revenuePerTokenStored;
    /// Staking reward per staked token accrued up to `rewardUpdatedAt`, scaled by 1e18. An index
    /// rather than the spec's per-holder timestamp, so a rate change prices only the time after it.
    uint256 public rewardPerTokenStored;
    uint256 public rewardUpdatedAt;
    /// Revenue received but not yet claimed; held by this contract beside the staked principal.
    uint256 public undistributedRevenue;

    event Staked(address indexed user, uint256 amount, uint256 newBalance, uint256 unlockTime);
    event Unstaked(address indexed user, uint256 amount, uint256 newBalance);
    event RewardsAccrued(address indexed user, uint256 stakingReward, uint256 revenueShare);
    event RewardsClaimed(address indexed user, uint256 amount);
    event RevenueShareClaimed(address indexed user, uint256 amount);
    event RevenueDistributed(address indexed from, uint256 amount, uint256 totalStaked, uint256 revenuePerToken);
    event RewardRateUpdated(uint256 oldRate, uint256 newRate);
    event LockPeriodUpdated(uint256 oldPeriod, uint256 newPeriod);

    error ZeroAmount();
    error InsufficientStake(uint256 staked, uint256 requested);
    error StakeLocked(uint256 unlockTime);
    error NothingToClaim();
    error NothingStaked();
    error RateTooHigh(uint256 rate);
    error LockTooLong(uint256 period);
    error LockTooShort(uint256 period);

    constructor(address admin, uint256 initialSupply, uint256 initialLockPeriod)
        ERC20("Far Labs Token", "FAR")
        ERC20Capped(MAX_SUPPLY)
    {
        _checkLockPeriod(initialLockPeriod);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        lockPeriod = initialLockPeriod;
        rewardUpdatedAt = block.timestamp;
        // Announced at deploy so an indexer learns the starting parameters from events alone.
        emit RewardRateUpdated(0, rewardRate);
        emit LockPeriodUpdated(0, initialLockPeriod);
        _mint(admin, initialSupply);
    }

    function stake(uint256 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        _accrueHolder(msg.sender);
        _transfer(msg.sender, address(this), amount);
        uint256 newBalance = stakingBalance[msg.sender] + amount;
        stakingBalance[msg.sender] = newBalance;
        totalStaked += amount;
        uint256 unlock = block.timestamp + lockPeriod;
        unlockTime[msg.sender] = unlock;
        emit Staked(msg.sender, amount, newBalance, unlock);
    }

    function unstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 staked = stakingBalance[msg.sender];
        if (staked < amount) revert InsufficientStake(staked, amount);
        if (block.timestamp < unlockTime[msg.sender]) revert StakeLocked(unlockTime[msg.sender]);
        _accrueHolder(msg.sender);
        uint256 newBalance = staked - amount;
        stakingBalance[msg.sender] = newBalance;
        totalStaked -= amount;
        _transfer(address(this), msg.sender, amount);
        emit Unstaked(msg.sender, amount, newBalance);
    }

    /// @notice Mints the accrued staking reward (as far as the cap allows; the rest stays
    /// accrued) and pays out the accrued revenue share.
    function claimRewards() external {
        _accrueHolder(msg.sender);
        uint256 reward = rewardsEarned[msg.sender];
        uint256 headroom = cap() - totalSupply();
        uint256 minted = reward < headroom ? reward : headroom;
        uint256 share = revenueShareEarned[msg.sender];
        if (minted == 0 && share == 0) revert NothingToClaim();
        if (minted > 0) {
            rewardsEarned[msg.sender] = reward - minted;
            _mint(msg.sender, minted);
            emit RewardsClaimed(msg.sender, minted);
        }
        if (share > 0) {
            revenueShareEarned[msg.sender] = 0;
            undistributedRevenue -= share;
            _transfer(address(this), msg.sender, share);
            emit RevenueShareClaimed(msg.sender, share);
        }
    }

    /// @notice Moves `amount` from the caller into the stakers' pool, split pro rata to stake now.
    /// @dev Rounding dust stays in `undistributedRevenue`'s backing balance and is never claimable,
    /// which keeps the pool solvent.
    function distributeRevenue(uint256 amount) external onlyRole(REVENUE_ROLE) {
        if (amount == 0) revert ZeroAmount();
        if (totalStaked == 0) revert NothingStaked();
        _transfer(msg.sender, address(this), amount);
        revenuePerTokenStored += (amount * ACC_PRECISION) / totalStaked;
        undistributedRevenue += amount;
        emit RevenueDistributed(msg.sender, amount, totalStaked, revenuePerTokenStored);
    }

    function rewardPerToken() public view returns (uint256) {
        return rewardPerTokenStored
            + (rewardRate * (block.timestamp - rewardUpdatedAt) * ACC_PRECISION) / (YEAR * MAX_REWARD_RATE);
    }

    function calculateRewards(address user) public view returns (uint256) {
        return (stakingBalance[user] * (rewardPerToken() - rewardPerTokenPaid[user])) / ACC_PRECISION;
    }

    function pendingRevenueShare(address user) public view returns (uint256) {
        return (stakingBalance[user] * (revenuePerTokenStored - revenuePerTokenPaid[user])) / ACC_PRECISION;
    }

    /// @return reward staking reward claimable now (before the cap is applied)
    /// @return share revenue share claimable now
    function claimable(address user) external view returns (uint256 reward, uint256 share) {
        return (rewardsEarned[user] + calculateRewards(user), revenueShareEarned[user] + pendingRevenueShare(user));
    }

    function setRewardRate(uint256 newRate) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newRate > MAX_REWARD_RATE) revert RateTooHigh(newRate);
        rewardPerTokenStored = rewardPerToken();
        rewardUpdatedAt = block.timestamp;
        emit RewardRateUpdated(rewardRate, newRate);
        rewardRate = newRate;
    }

    function setLockPeriod(uint256 newPeriod) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _checkLockPeriod(newPeriod);
        emit LockPeriodUpdated(lockPeriod, newPeriod);
        lockPeriod = newPeriod;
    }

    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    function _checkLockPeriod(uint256 period) private pure {
        if (period < MIN_LOCK_PERIOD) revert LockTooShort(period);
        if (period > MAX_LOCK_PERIOD) revert LockTooLong(period);
    }

    function _accrueHolder(address user) private {
        uint256 reward = calculateRewards(user);
        uint256 share = pendingRevenueShare(user);
        rewardPerTokenStored = rewardPerToken();
        rewardUpdatedAt = block.timestamp;
        rewardPerTokenPaid[user] = rewardPerTokenStored;
        revenuePerTokenPaid[user] = revenuePerTokenStored;
        if (reward == 0 && share == 0) return;
        rewardsEarned[user] += reward;
        revenueShareEarned[user] += share;
        emit RewardsAccrued(user, reward, share);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
