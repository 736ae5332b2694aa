// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Fixture} from "./utils/Fixture.sol";
import {FARToken} from "../src/FARToken.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";

/// Unit and fuzz tests of every external function and revert path of FARToken.
contract FARTokenTest is Fixture {
    bytes32 internal constant DEFAULT_ADMIN = 0x00;
    bytes32 internal REVENUE;

    function setUp() public override {
        super.setUp();
        REVENUE = far.REVENUE_ROLE();
        // admin acts as an extra revenue source for the distributeRevenue tests
        vm.prank(admin);
        far.grantRole(REVENUE, admin);
    }

    // ---------------------------------------------------------------- helpers

    function _unauthorized(address who, bytes32 role) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, who, role);
    }

    /// reward = balance * rate * dt / (year * 10_000), computed the way the index does it
    function _expectedReward(uint256 balance, uint256 rate, uint256 dt) internal pure returns (uint256) {
        uint256 perToken = (rate * dt * 1e18) / (YEAR * 10_000);
        return (balance * perToken) / 1e18;
    }

    // ---------------------------------------------------------------- constructor

    function test_Constructor_InitialState() public view {
        assertEq(far.name(), "Far Labs Token");
        assertEq(far.symbol(), "FAR");
        assertEq(uint256(far.decimals()), 18);
        assertEq(far.MAX_SUPPLY(), 1_000_000_000 ether);
        assertEq(far.cap(), far.MAX_SUPPLY());
        assertEq(far.MAX_REWARD_RATE(), 10_000);
        assertEq(far.MAX_LOCK_PERIOD(), 365 days);
        assertEq(far.MIN_LOCK_PERIOD(), 1 days);
        assertEq(far.REVENUE_ROLE(), keccak256("REVENUE_ROLE"));
        assertEq(far.totalSupply(), INITIAL_SUPPLY);
        assertEq(far.balanceOf(admin), INITIAL_SUPPLY - 3 * USER_FUNDS);
        assertTrue(far.hasRole(DEFAULT_ADMIN, admin));
        assertFalse(far.hasRole(DEFAULT_ADMIN, address(this)));
        assertEq(far.lockPeriod(), LOCK);
        assertEq(far.rewardRate(), 100);
        assertEq(far.rewardUpdatedAt(), block.timestamp);
        assertEq(far.totalStaked(), 0);
        assertEq(far.undistributedRevenue(), 0);
        assertEq(far.revenuePerTokenStored(), 0);
        assertEq(far.rewardPerTokenStored(), 0);
        assertFalse(far.paused());
    }

    function test_Constructor_AnnouncesParametersAndMint() public {
        vm.expectEmit(false, false, false, true);
        emit FARToken.RewardRateUpdated(0, 100);
        vm.expectEmit(false, false, false, true);
        emit FARToken.LockPeriodUpdated(0, 3 days);
        vm.expectEmit(true, true, false, true);
        emit IERC20.Transfer(address(0), alice, 123 ether);
        FARToken t = new FARToken(alice, 123 ether, 3 days);
        assertEq(t.balanceOf(alice), 123 ether);
        assertEq(t.lockPeriod(), 3 days);
    }

    function test_Constructor_MinLockAndZeroSupply() public {
        FARToken t = new FARToken(alice, 0, 1 days);
        assertEq(t.totalSupply(), 0);
        assertEq(t.lockPeriod(), 1 days);
    }

    function test_Constructor_EmitsMintTransfer() public {
        vm.expectEmit(true, true, false, true);
        emit IERC20.Transfer(address(0), alice, 123 ether);
        FARToken t = new FARToken(alice, 123 ether, LOCK);
        assertEq(t.balanceOf(alice), 123 ether);
        assertEq(t.lockPeriod(), LOCK);
    }

    function test_RevertWhen_Constructor_NoLock() public {
        vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooShort.selector, 0));
        new FARToken(admin, 0, 0);
    }

    function test_RevertWhen_Constructor_LockTooShort() public {
        vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooShort.selector, 1 days - 1));
        new FARToken(admin, 0, 1 days - 1);
    }

    function testFuzz_Constructor_LockBounds(uint256 period) public {
        if (period < 1 days) {
            vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooShort.selector, period));
        } else if (period > 365 days) {
            vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooLong.selector, period));
        }
        FARToken t = new FARToken(admin, 0, period);
        if (period >= 1 days && period <= 365 days) assertEq(t.lockPeriod(), period);
    }

    function test_Constructor_MaxLockAllowed() public {
        FARToken t = new FARToken(alice, 0, 365 days);
        assertEq(t.lockPeriod(), 365 days);
        assertEq(t.totalSupply(), 0);
    }

    function test_RevertWhen_Constructor_LockTooLong() public {
        vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooLong.selector, 365 days + 1));
        new FARToken(admin, 0, 365 days + 1);
    }

    function test_RevertWhen_Constructor_SupplyAboveCap() public {
        uint256 tooMuch = 1_000_000_000 ether + 1;
        vm.expectRevert(abi.encodeWithSelector(ERC20Capped.ERC20ExceededCap.selector, tooMuch, 1_000_000_000 ether));
        new FARToken(admin, tooMuch, LOCK);
    }

    // ---------------------------------------------------------------- stake

    function test_Stake_MovesTokensAndRecordsLock() public {
        uint256 unlock = block.timestamp + LOCK;
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(alice, address(far), 100 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.Staked(alice, 100 ether, 100 ether, unlock);
        _stake(alice, 100 ether);

        assertEq(far.stakingBalance(alice), 100 ether);
        assertEq(far.totalStaked(), 100 ether);
        assertEq(far.unlockTime(alice), unlock);
        assertEq(far.balanceOf(alice), USER_FUNDS - 100 ether);
        assertEq(far.balanceOf(address(far)), 100 ether);
        assertEq(far.rewardPerTokenPaid(alice), far.rewardPerTokenStored());
    }

    function test_Stake_SecondStakeAccruesAndResetsLock() public {
        _stake(alice, 100 ether);
        vm.warp(block.timestamp + YEAR);
        uint256 reward = _expectedReward(100 ether, 100, YEAR);
        assertEq(reward, 1 ether);
        uint256 unlock = block.timestamp + LOCK;

        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RewardsAccrued(alice, reward, 0);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.Staked(alice, 50 ether, 150 ether, unlock);
        _stake(alice, 50 ether);

        assertEq(far.rewardsEarned(alice), reward);
        assertEq(far.stakingBalance(alice), 150 ether);
        assertEq(far.totalStaked(), 150 ether);
        assertEq(far.unlockTime(alice), unlock);
        assertEq(far.rewardUpdatedAt(), block.timestamp);
    }

    function test_RevertWhen_Stake_Zero() public {
        vm.expectRevert(FARToken.ZeroAmount.selector);
        _stake(alice, 0);
    }

    function test_RevertWhen_Stake_MoreThanBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, USER_FUNDS, USER_FUNDS + 1)
        );
        _stake(alice, USER_FUNDS + 1);
    }

    function test_RevertWhen_Stake_Paused() public {
        vm.prank(admin);
        far.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        _stake(alice, 1 ether);
    }

    // ---------------------------------------------------------------- unstake

    function test_Unstake_AfterLock() public {
        _stake(alice, 100 ether);
        vm.warp(block.timestamp + LOCK);
        uint256 reward = _expectedReward(100 ether, 100, LOCK);

        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RewardsAccrued(alice, reward, 0);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(far), alice, 40 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.Unstaked(alice, 40 ether, 60 ether);
        vm.prank(alice);
        far.unstake(40 ether);

        assertEq(far.stakingBalance(alice), 60 ether);
        assertEq(far.totalStaked(), 60 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS - 60 ether);
        assertEq(far.rewardsEarned(alice), reward);
    }

    function test_Unstake_ExactlyAtUnlockTime() public {
        _stake(alice, 10 ether);
        vm.warp(far.unlockTime(alice));
        vm.prank(alice);
        far.unstake(10 ether);
        assertEq(far.stakingBalance(alice), 0);
        assertEq(far.totalStaked(), 0);
    }

    function test_Unstake_WorksWhilePaused() public {
        _stake(alice, 10 ether);
        vm.prank(admin);
        far.pause();
        vm.warp(block.timestamp + LOCK);
        vm.prank(alice);
        far.unstake(10 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS);
    }

    function test_RevertWhen_Unstake_Zero() public {
        vm.expectRevert(FARToken.ZeroAmount.selector);
        vm.prank(alice);
        far.unstake(0);
    }

    function test_RevertWhen_Unstake_MoreThanStaked() public {
        _stake(alice, 10 ether);
        vm.warp(block.timestamp + LOCK);
        vm.expectRevert(abi.encodeWithSelector(FARToken.InsufficientStake.selector, 10 ether, 10 ether + 1));
        vm.prank(alice);
        far.unstake(10 ether + 1);
    }

    function test_RevertWhen_Unstake_Locked() public {
        _stake(alice, 10 ether);
        uint256 unlock = far.unlockTime(alice);
        vm.warp(unlock - 1);
        vm.expectRevert(abi.encodeWithSelector(FARToken.StakeLocked.selector, unlock));
        vm.prank(alice);
        far.unstake(1 ether);
    }

    function test_RevertWhen_Unstake_LockRestartedByTopUp() public {
        _stake(alice, 10 ether);
        vm.warp(block.timestamp + LOCK - 1);
        _stake(alice, 1); // a top-up relocks the whole stake
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(FARToken.StakeLocked.selector, far.unlockTime(alice)));
        vm.prank(alice);
        far.unstake(10 ether);
    }

    // ---------------------------------------------------------------- claimRewards

    function test_ClaimRewards_MintsStakingReward() public {
        _stake(alice, 100 ether);
        vm.warp(block.timestamp + YEAR);
        uint256 supplyBefore = far.totalSupply();

        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RewardsAccrued(alice, 1 ether, 0);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(0), alice, 1 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RewardsClaimed(alice, 1 ether);
        vm.prank(alice);
        far.claimRewards();

        assertEq(far.balanceOf(alice), USER_FUNDS - 100 ether + 1 ether);
        assertEq(far.totalSupply(), supplyBefore + 1 ether);
        assertEq(far.rewardsEarned(alice), 0);
        assertEq(far.stakingBalance(alice), 100 ether);
    }

    function test_ClaimRewards_PaysRevenueShare() public {
        _stake(alice, 100 ether);
        vm.prank(admin);
        far.distributeRevenue(10 ether);

        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RewardsAccrued(alice, 0, 10 ether);
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(address(far), alice, 10 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RevenueShareClaimed(alice, 10 ether);
        vm.prank(alice);
        far.claimRewards();

        assertEq(far.balanceOf(alice), USER_FUNDS - 100 ether + 10 ether);
        assertEq(far.undistributedRevenue(), 0);
        assertEq(far.revenueShareEarned(alice), 0);
        assertEq(far.balanceOf(address(far)), 100 ether);
    }

    function test_ClaimRewards_BothKindsAndWhilePaused() public {
        _stake(alice, 100 ether);
        vm.prank(admin);
        far.distributeRevenue(5 ether);
        vm.warp(block.timestamp + YEAR);
        vm.prank(admin);
        far.pause();

        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RewardsClaimed(alice, 1 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RevenueShareClaimed(alice, 5 ether);
        vm.prank(alice);
        far.claimRewards();
        assertEq(far.balanceOf(alice), USER_FUNDS - 100 ether + 6 ether);
    }

    function test_RevertWhen_ClaimRewards_NothingAccrued() public {
        vm.expectRevert(FARToken.NothingToClaim.selector);
        vm.prank(alice);
        far.claimRewards();
    }

    function test_RevertWhen_ClaimRewards_Twice() public {
        _stake(alice, 100 ether);
        vm.warp(block.timestamp + 30 days);
        vm.prank(alice);
        far.claimRewards();
        vm.expectRevert(FARToken.NothingToClaim.selector);
        vm.prank(alice);
        far.claimRewards();
    }

    // ---------------------------------------------------------------- distributeRevenue

    function test_DistributeRevenue_ProRataToStakeNow() public {
        _stake(alice, 100 ether);
        _stake(bob, 300 ether);
        uint256 perToken = (40 ether * 1e18) / 400 ether;

        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(admin, address(far), 40 ether);
        vm.expectEmit(true, false, false, true, address(far));
        emit FARToken.RevenueDistributed(admin, 40 ether, 400 ether, perToken);
        vm.prank(admin);
        far.distributeRevenue(40 ether);

        assertEq(far.revenuePerTokenStored(), perToken);
        assertEq(far.undistributedRevenue(), 40 ether);
        assertEq(far.pendingRevenueShare(alice), 10 ether);
        assertEq(far.pendingRevenueShare(bob), 30 ether);

        // a later staker has no claim on an earlier distribution
        _stake(carol, 1000 ether);
        assertEq(far.pendingRevenueShare(carol), 0);
        vm.prank(admin);
        far.distributeRevenue(14 ether);
        assertEq(far.pendingRevenueShare(alice), 11 ether);
        assertEq(far.pendingRevenueShare(bob), 33 ether);
        assertEq(far.pendingRevenueShare(carol), 10 ether);
    }

    function test_RevertWhen_DistributeRevenue_NoRole() public {
        _stake(alice, 1 ether);
        vm.expectRevert(_unauthorized(stranger, REVENUE));
        vm.prank(stranger);
        far.distributeRevenue(1 ether);
    }

    function test_RevertWhen_DistributeRevenue_Zero() public {
        _stake(alice, 1 ether);
        vm.expectRevert(FARToken.ZeroAmount.selector);
        vm.prank(admin);
        far.distributeRevenue(0);
    }

    function test_RevertWhen_DistributeRevenue_NothingStaked() public {
        vm.expectRevert(FARToken.NothingStaked.selector);
        vm.prank(admin);
        far.distributeRevenue(1 ether);
    }

    function test_RevertWhen_DistributeRevenue_SourceTooPoor() public {
        _stake(alice, 1 ether);
        vm.prank(admin);
        far.grantRole(REVENUE, stranger);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, stranger, 0, 1 ether));
        vm.prank(stranger);
        far.distributeRevenue(1 ether);
    }

    // ---------------------------------------------------------------- views

    function test_Views_TrackAccruals() public {
        _stake(alice, 200 ether);
        vm.prank(admin);
        far.distributeRevenue(3 ether);
        vm.warp(block.timestamp + YEAR / 2);

        uint256 perToken = (100 * (YEAR / 2) * 1e18) / (YEAR * 10_000);
        assertEq(far.rewardPerToken(), perToken);
        assertEq(far.calculateRewards(alice), 1 ether);
        assertEq(far.pendingRevenueShare(alice), 3 ether);
        (uint256 reward, uint256 share) = far.claimable(alice);
        assertEq(reward, 1 ether);
        assertEq(share, 3 ether);

        // after an accrual the amounts move from "pending" to "earned" and claimable is unchanged
        _stake(alice, 1 ether);
        assertEq(far.calculateRewards(alice), 0);
        assertEq(far.pendingRevenueShare(alice), 0);
        assertEq(far.rewardsEarned(alice), 1 ether);
        assertEq(far.revenueShareEarned(alice), 3 ether);
        assertEq(far.revenuePerTokenPaid(alice), far.revenuePerTokenStored());
        (reward, share) = far.claimable(alice);
        assertEq(reward, 1 ether);
        assertEq(share, 3 ether);

        (reward, share) = far.claimable(bob);
        assertEq(reward, 0);
        assertEq(share, 0);
    }

    // ---------------------------------------------------------------- setRewardRate

    function test_SetRewardRate_PricesOnlyTimeAfterChange() public {
        _stake(alice, 100 ether);
        vm.warp(block.timestamp + YEAR / 2);

        vm.expectEmit(false, false, false, true, address(far));
        emit FARToken.RewardRateUpdated(100, 1000);
        vm.prank(admin);
        far.setRewardRate(1000);
        assertEq(far.rewardRate(), 1000);
        assertEq(far.rewardUpdatedAt(), block.timestamp);

        vm.warp(block.timestamp + YEAR / 2);
        assertEq(far.calculateRewards(alice), 0.5 ether + 5 ether);
    }

    function test_SetRewardRate_MaxAndZero() public {
        vm.startPrank(admin);
        far.setRewardRate(10_000);
        assertEq(far.rewardRate(), 10_000);
        far.setRewardRate(0);
        vm.stopPrank();
        _stake(alice, 100 ether);
        vm.warp(block.timestamp + YEAR);
        assertEq(far.calculateRewards(alice), 0);
    }

    function test_RevertWhen_SetRewardRate_TooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(FARToken.RateTooHigh.selector, 10_001));
        vm.prank(admin);
        far.setRewardRate(10_001);
    }

    function test_RevertWhen_SetRewardRate_NotAdmin() public {
        vm.expectRevert(_unauthorized(stranger, DEFAULT_ADMIN));
        vm.prank(stranger);
        far.setRewardRate(1);
    }

    // ---------------------------------------------------------------- setLockPeriod

    function test_SetLockPeriod_AppliesToNewStakes() public {
        _stake(alice, 1 ether);
        uint256 aliceUnlock = far.unlockTime(alice);

        vm.expectEmit(false, false, false, true, address(far));
        emit FARToken.LockPeriodUpdated(LOCK, 30 days);
        vm.prank(admin);
        far.setLockPeriod(30 days);
        assertEq(far.lockPeriod(), 30 days);

        _stake(bob, 1 ether);
        assertEq(far.unlockTime(bob), block.timestamp + 30 days);
        assertEq(far.unlockTime(alice), aliceUnlock);
    }

    function test_RevertWhen_SetLockPeriod_TooLong() public {
        vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooLong.selector, 365 days + 1));
        vm.prank(admin);
        far.setLockPeriod(365 days + 1);
    }

    function test_SetLockPeriod_MinAllowed() public {
        vm.prank(admin);
        far.setLockPeriod(1 days);
        assertEq(far.lockPeriod(), 1 days);
    }

    function test_RevertWhen_SetLockPeriod_Zero() public {
        vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooShort.selector, 0));
        vm.prank(admin);
        far.setLockPeriod(0);
        assertEq(far.lockPeriod(), LOCK);
    }

    function test_RevertWhen_SetLockPeriod_TooShort() public {
        vm.expectRevert(abi.encodeWithSelector(FARToken.LockTooShort.selector, 1 days - 1));
        vm.prank(admin);
        far.setLockPeriod(1 days - 1);
    }

    /// At the minimum lock, a stake cannot leave in its own block (stake → settlement → unstake)
    /// nor at any time before a full day has passed.
    function test_MinLock_UnstakeRefusedForADay() public {
        vm.prank(admin);
        far.setLockPeriod(1 days);
        _stake(bob, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(FARToken.StakeLocked.selector, block.timestamp + 1 days));
        vm.prank(bob);
        far.unstake(1 ether);
        vm.warp(block.timestamp + 1 days - 1);
        vm.expectRevert(abi.encodeWithSelector(FARToken.StakeLocked.selector, block.timestamp + 1));
        vm.prank(bob);
        far.unstake(1 ether);
        vm.warp(block.timestamp + 1);
        vm.prank(bob);
        far.unstake(1 ether);
    }

    function test_RevertWhen_SetLockPeriod_NotAdmin() public {
        vm.expectRevert(_unauthorized(stranger, DEFAULT_ADMIN));
        vm.prank(stranger);
        far.setLockPeriod(2 days);
    }

    // ---------------------------------------------------------------- pause / unpause

    function test_PauseUnpause() public {
        vm.expectEmit(false, false, false, true, address(far));
        emit Pausable.Paused(admin);
        vm.prank(admin);
        far.pause();
        assertTrue(far.paused());

        // plain transfers are not paused, only new stakes
        vm.prank(alice);
        far.transfer(bob, 1 ether);
        assertEq(far.balanceOf(bob), USER_FUNDS + 1 ether);

        vm.expectEmit(false, false, false, true, address(far));
        emit Pausable.Unpaused(admin);
        vm.prank(admin);
        far.unpause();
        assertFalse(far.paused());
        _stake(alice, 1 ether);
    }

    function test_RevertWhen_Pause_AlreadyPaused() public {
        vm.startPrank(admin);
        far.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        far.pause();
        vm.stopPrank();
    }

    function test_RevertWhen_Unpause_NotPaused() public {
        vm.expectRevert(Pausable.ExpectedPause.selector);
        vm.prank(admin);
        far.unpause();
    }

    function test_RevertWhen_Pause_NotAdmin() public {
        vm.expectRevert(_unauthorized(stranger, DEFAULT_ADMIN));
        vm.prank(stranger);
        far.pause();
    }

    function test_RevertWhen_Unpause_NotAdmin() public {
        vm.prank(admin);
        far.pause();
        vm.expectRevert(_unauthorized(stranger, DEFAULT_ADMIN));
        vm.prank(stranger);
        far.unpause();
    }

    // ---------------------------------------------------------------- roles, burn, ERC-20

    function test_RevertWhen_GrantRole_NotAdmin() public {
        vm.expectRevert(_unauthorized(stranger, DEFAULT_ADMIN));
        vm.prank(stranger);
        far.grantRole(REVENUE, stranger);
    }

    function test_RevokeRole_RemovesRevenueRight() public {
        _stake(alice, 1 ether);
        vm.prank(admin);
        far.revokeRole(REVENUE, admin);
        vm.expectRevert(_unauthorized(admin, REVENUE));
        vm.prank(admin);
        far.distributeRevenue(1 ether);
    }

    function test_SupportsInterface() public view {
        assertTrue(far.supportsInterface(type(IAccessControl).interfaceId));
        assertTrue(far.supportsInterface(0x01ffc9a7)); // ERC-165
        assertFalse(far.supportsInterface(0xffffffff));
    }

    function test_Burn_FreesHeadroom() public {
        uint256 supply = far.totalSupply();
        vm.expectEmit(true, true, false, true, address(far));
        emit IERC20.Transfer(alice, address(0), 10 ether);
        vm.prank(alice);
        far.burn(10 ether);
        assertEq(far.totalSupply(), supply - 10 ether);

        vm.prank(alice);
        far.approve(bob, 5 ether);
        vm.prank(bob);
        far.burnFrom(alice, 5 ether);
        assertEq(far.totalSupply(), supply - 15 ether);
        assertEq(far.balanceOf(alice), USER_FUNDS - 15 ether);
    }

    function test_StakedTokensAreNotSpendable() public {
        _stake(alice, USER_FUNDS);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 0, 1));
        vm.prank(alice);
        far.transfer(bob, 1);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_StakeUnstakeRoundTrip(uint256 amount, uint256 wait) public {
        amount = bound(amount, 1, USER_FUNDS);
        wait = bound(wait, LOCK, 10 * YEAR);
        _stake(alice, amount);
        vm.warp(block.timestamp + wait);
        vm.prank(alice);
        far.unstake(amount);

        assertEq(far.balanceOf(alice), USER_FUNDS);
        assertEq(far.totalStaked(), 0);
        assertEq(far.rewardsEarned(alice), _expectedReward(amount, 100, wait));
    }

    function testFuzz_RewardMatchesRateAndTime(uint256 amount, uint256 rate, uint256 dt) public {
        amount = bound(amount, 1, USER_FUNDS);
        rate = bound(rate, 0, 10_000);
        dt = bound(dt, 0, 20 * YEAR);
        vm.prank(admin);
        far.setRewardRate(rate);
        _stake(alice, amount);
        vm.warp(block.timestamp + dt);
        uint256 expected = _expectedReward(amount, rate, dt);
        assertEq(far.calculateRewards(alice), expected);
        if (expected > 0) {
            uint256 supply = far.totalSupply();
            vm.prank(alice);
            far.claimRewards();
            assertEq(far.totalSupply(), supply + expected);
        }
    }

    function testFuzz_RevenueSplitsProRataAndStaysSolvent(uint256 a, uint256 b, uint256 amount) public {
        a = bound(a, 1, USER_FUNDS);
        b = bound(b, 1, USER_FUNDS);
        amount = bound(amount, 1, 100_000_000 ether);
        _stake(alice, a);
        _stake(bob, b);
        vm.prank(admin);
        far.distributeRevenue(amount);

        uint256 sa = far.pendingRevenueShare(alice);
        uint256 sb = far.pendingRevenueShare(bob);
        assertLe(sa + sb, amount, "shares exceed distribution");
        // each share is within the index's rounding of the exact pro-rata amount
        assertApproxEqAbs(sa, (amount * a) / (a + b), a / 1e18 + 2);
        assertApproxEqAbs(sb, (amount * b) / (a + b), b / 1e18 + 2);

        if (sa > 0) {
            vm.prank(alice);
            far.claimRewards();
        }
        if (sb > 0) {
            vm.prank(bob);
            far.claimRewards();
        }
        assertGe(far.balanceOf(address(far)), far.totalStaked() + far.undistributedRevenue());
        assertEq(far.undistributedRevenue(), amount - sa - sb);
    }
}
